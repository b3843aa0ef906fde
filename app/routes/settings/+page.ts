// `/settings` needs a session: signed-out visitors go to `/`.
import { error, redirect } from "@sveltejs/kit";
import { resolve } from "$app/paths";
import { errorMessage } from "#lib/http.ts";
import { session } from "#lib/session.svelte.ts";

export async function load(): Promise<void> {
  let signedIn: boolean;
  try {
    signedIn = (await session.restore()) !== null;
  } catch (err) {
    error(503, errorMessage(err));
  }
  if (!signedIn) redirect(307, resolve("/"));
}
