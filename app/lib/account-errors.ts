/**
 * Sentences for the account settings' failures. The server's own words are
 * kept where they are already clear (its 400s name the rule broken, its 429s
 * say how long to wait); a wrong password gets a sentence about the field the
 * person just typed in, and a 429 without words still says how long to wait.
 */
import { ApiError, errorMessage } from "./http.ts";

/** "15 s", "2 min". */
export function waitText(seconds: number): string {
  return seconds < 90 ? `${Math.max(1, Math.ceil(seconds))} s` : `${Math.ceil(seconds / 60)} min`;
}

/**
 * The sentence to show for a failed settings call.
 * @param wrongPassword what to say when the password typed was not right (401 `invalid_credentials`).
 */
export function accountError(err: unknown, wrongPassword: string): string {
  if (err instanceof ApiError) {
    if (err.code === "invalid_credentials") return wrongPassword;
    if (err.status === 429 && !/try again/i.test(err.message)) {
      return err.retryAfter === undefined ? "Too many attempts. Wait a moment, then try again." : `Too many attempts. Try again in ${waitText(err.retryAfter)}.`;
    }
  }
  return errorMessage(err);
}

/** Run `fn`, turning what it throws into {@link accountError}'s sentence (for an `Action`). */
export async function withAccountError<T>(fn: () => Promise<T>, wrongPassword: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw new Error(accountError(err, wrongPassword), { cause: err });
  }
}
