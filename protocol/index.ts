/**
 * Parley's wire protocol: every HTTP payload and WebSocket frame as a schema,
 * imported as `#protocol` by the Worker, the Durable Objects, the SPA, the
 * tests and the benchmark. It imports nothing from `cloudflare:*`, so the
 * browser bundle can use it. Documented for client authors in docs/protocol.md.
 */
export * from "./common.ts";
export * from "./model.ts";
export * from "./frames.ts";
export * from "./mentions.ts";
export * from "./file-types.ts";
