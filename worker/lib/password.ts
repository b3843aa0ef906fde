/**
 * Password hashing: PBKDF2-SHA256 through WebCrypto.
 *
 * Stored as a self-describing string `pbkdf2-sha256$<iterations>$<salt>$<hash>`
 * (base64) so the cost can be raised later without breaking old hashes.
 * Workers in production refuse PBKDF2 above 100,000 iterations (local workerd
 * does not), so that is both the cost we use and the most we will derive: a
 * stored hash claiming more is rejected before any work is done.
 */
import { fromBase64, randomBytes, toBase64 } from "./encoding";

export const PBKDF2_ITERATIONS = 100_000;
export const MAX_PBKDF2_ITERATIONS = 100_000;
const SCHEME = "pbkdf2-sha256";
const HASH_BYTES = 32;
const SALT_BYTES = 16;

async function derive(password: string, salt: Uint8Array<ArrayBuffer>, iterations: number): Promise<Uint8Array> {
  const key = await crypto.subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, key, HASH_BYTES * 8);
  return new Uint8Array(bits);
}

/** Hash an (already NFKC-normalised) password. */
export async function hashPassword(password: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) {
    throw new RangeError(`iterations must be 1..${MAX_PBKDF2_ITERATIONS}`);
  }
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(password, salt, iterations);
  return `${SCHEME}$${iterations}$${toBase64(salt)}$${toBase64(hash)}`;
}

/** Parse a stored hash; null when malformed or when it claims an unsafe cost. */
export function parsePasswordHash(stored: string): { iterations: number; salt: Uint8Array<ArrayBuffer>; hash: Uint8Array } | null {
  const parts = stored.split("$");
  if (parts.length !== 4 || parts[0] !== SCHEME) return null;
  const [, iterText = "", saltText = "", hashText = ""] = parts;
  if (!/^\d{1,10}$/.test(iterText)) return null;
  const iterations = Number(iterText);
  if (iterations < 1 || iterations > MAX_PBKDF2_ITERATIONS) return null;
  try {
    const salt = fromBase64(saltText);
    const hash = fromBase64(hashText);
    if (salt.length < 8 || hash.length !== HASH_BYTES) return null;
    return { iterations, salt, hash };
  } catch {
    return null;
  }
}

/**
 * Check a password against a stored hash in constant time. A malformed hash,
 * or one that claims more than MAX_PBKDF2_ITERATIONS, never matches and costs
 * no derivation.
 */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parsePasswordHash(stored);
  if (!parsed) return false;
  const candidate = await derive(password, parsed.salt, parsed.iterations);
  return crypto.subtle.timingSafeEqual(candidate, parsed.hash);
}

/** A hash of a random password, to spend the same time when the user does not exist. */
let dummyHash: Promise<string> | undefined;
export function dummyPasswordHash(): Promise<string> {
  dummyHash ??= hashPassword(toBase64(randomBytes(16)));
  return dummyHash;
}
