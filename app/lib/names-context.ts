/**
 * The open room's {@link Names}, given by the room page to everything under
 * it (messages, files, the typing line) without threading a prop through
 * each list. Outside a room, usernames are shown as they are.
 */
import { getContext, setContext } from "svelte";
import { type Names, PLAIN_NAMES } from "./display-names.ts";

const KEY = Symbol("parley.names");

/** In a component's setup: the names below it come from `names()` (read when rendering, so they stay live). */
export function provideNames(names: () => Names): void {
  setContext(KEY, names);
}

/** In a component's setup: how to read the names of the room it is in. */
export function useNames(): () => Names {
  return getContext<(() => Names) | undefined>(KEY) ?? (() => PLAIN_NAMES);
}
