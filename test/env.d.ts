declare namespace Cloudflare {
  interface Env {
    TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    FUZZ_ITERATIONS: string;
    CHAOS_ROUNDS: string;
  }
}
