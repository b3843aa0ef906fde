// `/`: signed-in visitors go straight to their rooms.
import { redirect } from "@sveltejs/kit";
import { resolve } from "$app/paths";
import { session } from "#lib/session.svelte.ts";

export async function load(): Promise<void> {
  let signedIn = false;
  try {
    signedIn = (await session.restore()) !== null;
  } catch {
    // Server unreachable: show the form; submitting it will explain the problem.
  }
  if (signedIn) redirect(307, resolve("/rooms"));
}
