/**
 * Cloudflare's published Durable Objects prices (Workers Paid, beyond the included amounts), read
 * 2026-12-01 from https://developers.cloudflare.com/durable-objects/platform/pricing/. Requests
 * include RPC calls, HTTP requests, WebSocket messages (incoming ones billed 20:1) and alarm
 * invocations. Duration (GB-s) and storage are not counted here.
 */
export const PRICES = {
  source: "https://developers.cloudflare.com/durable-objects/platform/pricing/",
  read: "2026-12-01",
  requestsPerMillion: 0.15,
  rowsReadPerMillion: 0.001,
  rowsWrittenPerMillion: 1.0,
};

export const r4 = (x: number): number => Math.round(x * 10_000) / 10_000;
export const r2 = (x: number): number => Math.round(x * 100) / 100;

/** Billed figures per message. */
export interface Billed {
  requests: number;
  rowsRead: number;
  rowsWritten: number;
}

export interface Dollars extends Billed {
  total: number;
}

/**
 * Per-message figures → dollars per million messages: a figure of x per message is x million per
 * million messages, so each term is simply x × its price per million.
 */
export function dollarsPerMillionMessages({ requests, rowsRead, rowsWritten }: Billed): Dollars {
  const usd = {
    requests: requests * PRICES.requestsPerMillion,
    rowsRead: rowsRead * PRICES.rowsReadPerMillion,
    rowsWritten: rowsWritten * PRICES.rowsWrittenPerMillion,
  };
  return { requests: r4(usd.requests), rowsRead: r4(usd.rowsRead), rowsWritten: r4(usd.rowsWritten), total: r4(usd.requests + usd.rowsRead + usd.rowsWritten) };
}

export interface Priced {
  perMessage: Billed;
  usdPerMillionMessages: Dollars;
}

/**
 * The same message under a "one hub per user" design: the room's own rows and its 1 request, plus,
 * for every member, one request to that member's own hub and one row written there.
 */
export function oneHubPerUser(room: { rowsRead: number; rowsWritten: number }, members: number): Priced {
  const perMessage = { requests: 1 + members, rowsRead: room.rowsRead, rowsWritten: room.rowsWritten + members };
  return { perMessage, usdPerMillionMessages: dollarsPerMillionMessages(perMessage) };
}

/** One row of the dollars table: Parley as measured beside one hub per user. */
export interface DollarRow {
  members: number;
  badgeSockets: number;
  parley: Priced;
  oneHubPerUser: Priced;
  ratio: number | null;
}

/** The dollars table as markdown. */
export function dollarsMarkdown(rows: readonly DollarRow[]): string {
  const head = "| members | badge sockets | Parley: requests / rows read / rows written per msg | Parley $ per 1M msgs | one hub per user: requests / rows read / rows written per msg | one hub per user $ per 1M msgs | Parley ÷ one hub per user |\n|---|---|---|---|---|---|---|";
  const lines = rows.map((r) => {
    const p = r.parley.perMessage;
    const o = r.oneHubPerUser.perMessage;
    return `| ${r.members} | ${r.badgeSockets} | ${p.requests} / ${p.rowsRead} / ${p.rowsWritten} | $${r.parley.usdPerMillionMessages.total} | ${o.requests} / ${r2(o.rowsRead)} / ${r2(o.rowsWritten)} | $${r.oneHubPerUser.usdPerMillionMessages.total} | ${r.ratio ?? ""} |`;
  });
  return [head, ...lines].join("\n");
}
