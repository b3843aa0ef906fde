/**
 * Every abuse limit, read from `[vars]` in wrangler.toml (documented in the
 * README, "Limits"). A rate is written `"<count>/<seconds>"`. In a room's
 * memory it is a token bucket of `count` refilled at count/seconds
 * (worker/lib/rate.ts); in D1 a window of `seconds` admitting `count`
 * (worker/lib/rate-window.ts).
 * With BENCH_HOOKS = "1" (local benchmark builds only) the registration and
 * room-creation rates are lifted so load tests can seed thousands of users.
 */

/** At most `count` per `seconds`. */
export interface Rate {
  count: number;
  seconds: number;
}

export interface LoginLimits {
  /** Attempts per account (and per account+address) in 15 min before delays start. */
  freePerAccount: number;
  /** Attempts per address (IPv6: per /64) across accounts before delays start. */
  freePerAddress: number;
  /** The first delay; each further attempt doubles it. */
  delayBaseSeconds: number;
  /** The most an account's delay can grow: the bound on how long others can keep its owner out. */
  accountMaxDelaySeconds: number;
  /** The most a pair's or an address's delay can grow. */
  maxDelaySeconds: number;
}

function int(name: string, raw: string | undefined, fallback: number): number {
  const n = raw === undefined || raw === "" ? fallback : Number(raw);
  if (!Number.isSafeInteger(n) || n < 0) throw new Error(`[vars] ${name} must be a whole number, got ${JSON.stringify(raw)}`);
  return n;
}

export function parseRate(name: string, raw: string | undefined, fallback: Rate): Rate {
  if (raw === undefined || raw === "") return fallback;
  const m = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  const rate = m ? { count: Number(m[1]), seconds: Number(m[2]) } : null;
  if (!rate || rate.count < 1 || rate.seconds < 1) throw new Error(`[vars] ${name} must look like "20/3600" (count/seconds), got ${JSON.stringify(raw)}`);
  return rate;
}

export function loginLimits(env: Env): LoginLimits {
  return {
    freePerAccount: int("LOGIN_FREE_ATTEMPTS", env.LOGIN_FREE_ATTEMPTS, 10),
    freePerAddress: int("LOGIN_FREE_ATTEMPTS_PER_ADDRESS", env.LOGIN_FREE_ATTEMPTS_PER_ADDRESS, 50),
    delayBaseSeconds: int("LOGIN_DELAY_BASE_SECONDS", env.LOGIN_DELAY_BASE_SECONDS, 15),
    accountMaxDelaySeconds: int("LOGIN_ACCOUNT_MAX_DELAY_SECONDS", env.LOGIN_ACCOUNT_MAX_DELAY_SECONDS, 60),
    maxDelaySeconds: int("LOGIN_MAX_DELAY_SECONDS", env.LOGIN_MAX_DELAY_SECONDS, 900),
  };
}

/** The rates kept in D1 (hour-long windows outlive any isolate or idle object). */
export interface AccountRates {
  register: Rate;
  createRoom: Rate;
  /** New direct-message rooms per user (opening an existing one is free). */
  dm: Rate;
  addMember: Rate;
  /** Profile changes (`PATCH /api/me`) per user: each one tells every room of the user. */
  profile: Rate;
  /** Muting or unmuting rooms (`PATCH /api/rooms/:id/me`) per user; a call that changes nothing is free. */
  mute: Rate;
  uploadCount: Rate;
  uploadBytes: Rate;
}

const UNLIMITED: Rate = { count: Number.MAX_SAFE_INTEGER, seconds: 1 };

export function accountRates(env: Env): AccountRates {
  const bench = String(env.BENCH_HOOKS) === "1";
  return {
    register: bench ? UNLIMITED : parseRate("RATE_REGISTER", env.RATE_REGISTER, { count: 20, seconds: 3600 }),
    createRoom: bench ? UNLIMITED : parseRate("RATE_CREATE_ROOM", env.RATE_CREATE_ROOM, { count: 30, seconds: 3600 }),
    dm: parseRate("RATE_DM", env.RATE_DM, { count: 30, seconds: 3600 }),
    addMember: parseRate("RATE_ADD_MEMBER", env.RATE_ADD_MEMBER, { count: 120, seconds: 3600 }),
    profile: parseRate("RATE_PROFILE", env.RATE_PROFILE, { count: 20, seconds: 3600 }),
    // Optional in [vars] (not in wrangler.toml by default).
    mute: parseRate("RATE_MUTE", env.RATE_MUTE, { count: 120, seconds: 3600 }),
    uploadCount: parseRate("RATE_UPLOAD_COUNT", env.RATE_UPLOAD_COUNT, { count: 100, seconds: 3600 }),
    uploadBytes: parseRate("RATE_UPLOAD_BYTES", env.RATE_UPLOAD_BYTES, { count: 2 * 1024 ** 3, seconds: 3600 }),
  };
}

/** The rates a room keeps in memory, per user (windows of seconds). */
export interface RoomRates {
  send: Rate;
  edit: Rate;
  read: Rate;
  typing: Rate;
  /** Reactions added or removed. */
  react: Rate;
}

export function roomRates(env: Env): RoomRates {
  return {
    send: parseRate("RATE_SEND", env.RATE_SEND, { count: 20, seconds: 2 }),
    edit: parseRate("RATE_EDIT", env.RATE_EDIT, { count: 20, seconds: 20 }),
    read: parseRate("RATE_READ", env.RATE_READ, { count: 12, seconds: 3 }),
    typing: parseRate("RATE_TYPING", env.RATE_TYPING, { count: 20, seconds: 10 }),
    react: parseRate("RATE_REACT", env.RATE_REACT, { count: 30, seconds: 10 }),
  };
}
