/** Dates and times for the message list, in the reader's locale and time zone. */

const clock = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const full = new Intl.DateTimeFormat(undefined, { dateStyle: "full", timeStyle: "short" });
const dayInYear = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric" });
const dayWithYear = new Intl.DateTimeFormat(undefined, { weekday: "long", month: "long", day: "numeric", year: "numeric" });

/** "10:42 AM" / "10:42". */
export function formatClock(ms: number): string {
  return clock.format(ms);
}

/** "Tuesday, 3 March 2026 at 10:42" — for a tooltip. */
export function formatFull(ms: number): string {
  return full.format(ms);
}

/** The `datetime` attribute value for a `<time>`. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString();
}

/** A key that is equal for two times on the same local day. */
export function dayKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

/** "Today", "Yesterday", "Monday, March 2" or, for other years, with the year. */
export function dayLabel(ms: number, now = Date.now()): string {
  if (dayKey(ms) === dayKey(now)) return "Today";
  if (dayKey(ms) === dayKey(now - 86_400_000)) return "Yesterday";
  return new Date(ms).getFullYear() === new Date(now).getFullYear() ? dayInYear.format(ms) : dayWithYear.format(ms);
}
