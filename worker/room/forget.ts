/**
 * Account deletion in a room's log: the deleted user's name leaves every
 * place the room stored it — their messages (what snapshots, history and
 * replays send), the events that carry a copy (edits, membership, files) —
 * and is replaced by "deleted user". Their user id stays (other members'
 * clients group and count by it; it names nobody). Idempotent.
 *
 * One-off cost: a row per message of theirs, and the events in the replay
 * window (at most 1,000) are scanned.
 */
import type { Sql } from "../lib/meter";
import { DELETED_USER_NAME } from "#protocol";

/** Rewrite the author name of `userId` everywhere in the log. Call inside a write transaction. */
export function anonymise(sql: Sql, userId: string, name = DELETED_USER_NAME): void {
  sql.exec("UPDATE messages SET username = ?1 WHERE user_id = ?2 AND username != ?1", name, userId);
  sql.exec(
    `UPDATE events SET data = json_set(data, '$.message.username', ?1)
     WHERE type = 'message_edited' AND json_extract(data, '$.message.userId') = ?2`,
    name,
    userId,
  );
  sql.exec(
    `UPDATE events SET data = json_set(data, '$.member.username', ?1, '$.member.displayName', NULL)
     WHERE type IN ('member_joined', 'member_updated') AND json_extract(data, '$.member.id') = ?2`,
    name,
    userId,
  );
  sql.exec(`UPDATE events SET data = json_set(data, '$.username', ?1) WHERE type = 'member_left' AND json_extract(data, '$.userId') = ?2`, name, userId);
  sql.exec(
    `UPDATE events SET data = json_set(data, '$.file.uploaded_by', ?1)
     WHERE type IN ('file_uploaded', 'file_version_added') AND json_extract(data, '$.file.uploader_id') = ?2`,
    name,
    userId,
  );
  sql.exec(
    `UPDATE events SET data = json_set(data, '$.file.version_uploaded_by', ?1)
     WHERE type IN ('file_uploaded', 'file_version_added') AND json_extract(data, '$.file.version_uploader_id') = ?2`,
    name,
    userId,
  );
  sql.exec("DELETE FROM activity WHERE user_id = ?", userId);
}
