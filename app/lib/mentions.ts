/**
 * @mentions in the composer (issue #15): the wire form is `<@userId>`
 * (what the server counts and MessageBody renders as a pill with the current
 * name); what people type and edit is `@username`. A draft's `@username`
 * becomes `<@id>` when it names a member (any case), and back for editing.
 */

export interface Mentionable {
  id: string;
  username: string;
  displayName?: string | null;
}

/** Characters of a username (protocol: letters, digits, `_ . -`). */
const NAME = "[\\p{L}\\p{N}_.-]";
const AT_NAME = new RegExp(`(^|[^\\p{L}\\p{N}_.@-])@(${NAME}{1,64})`, "gu");

/** `@username` of members → `<@id>`; other `@words` stay as typed. A trailing `.` or `-` is not part of the name. */
export function toWire(text: string, members: readonly Mentionable[]): string {
  const byName = new Map(members.map((m) => [m.username.toLowerCase(), m.id]));
  return text.replace(AT_NAME, (whole, before: string, name: string) => {
    let n = name;
    let rest = "";
    while (n && !byName.has(n.toLowerCase()) && /[.-]$/.test(n)) {
      rest = n.slice(-1) + rest;
      n = n.slice(0, -1);
    }
    const id = byName.get(n.toLowerCase());
    return id ? `${before}<@${id}>${rest}` : whole;
  });
}

/** `<@id>` → `@username` for the members known (unknown ids stay as they are). */
export function toDraft(text: string, members: readonly Mentionable[]): string {
  const byId = new Map(members.map((m) => [m.id, m.username]));
  return text.replace(/<@([A-Za-z0-9_-]{1,64})>/g, (whole, id: string) => (byId.has(id) ? `@${byId.get(id)}` : whole));
}

/** The `@partial` being typed at `caret`, if any: where it starts (the `@`) and the partial name. */
export function mentionAt(text: string, caret: number): { start: number; query: string } | null {
  const before = text.slice(0, caret);
  const m = new RegExp(`(^|[^\\p{L}\\p{N}_.@-])@(${NAME}{0,64})$`, "u").exec(before);
  if (!m) return null;
  return { start: caret - m[2]!.length - 1, query: m[2]! };
}

/** Members whose username or display name starts with `query` (any case), not me; at most `max`. */
export function suggest(members: readonly Mentionable[], query: string, me: string, max = 8): Mentionable[] {
  const q = query.toLowerCase();
  const starts = (s: string | null | undefined) => !!s && s.toLowerCase().startsWith(q);
  return members
    .filter((m) => m.id !== me && (starts(m.username) || starts(m.displayName) || (m.displayName ?? "").toLowerCase().split(/\s+/).some((w) => w.startsWith(q))))
    .sort((a, b) => Number(!starts(a.username)) - Number(!starts(b.username)) || a.username.localeCompare(b.username))
    .slice(0, max);
}
