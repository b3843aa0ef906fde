/**
 * What people are called in a room (app/lib/display-names.ts): the display
 * name where it is set, else the username; "deleted user" for an account
 * deleted while the room was open; and the room state keeping it live from
 * `member_updated` and `member_left` (`accountDeleted`) events.
 */
import { describe, expect, it } from "vitest";
import { DELETED_USER_NAME, type Member, type RoomEvent, type RoomSnapshot } from "#protocol";
import { displayNameOf, memberName, nameIndex, PLAIN_NAMES } from "../../app/lib/display-names.ts";
import { RoomState } from "../../app/lib/room.svelte.ts";
import { TypingIndicator } from "../../app/lib/typing.svelte.ts";
import { errorReply, stubFetch } from "./fake-socket.ts";

const member = (id: string, username: string, displayName?: string | null, role: Member["role"] = "member"): Member => ({
  id,
  username,
  role,
  joinedAt: 1,
  ...(displayName === undefined ? {} : { displayName }),
});

const members = [member("u-a", "alice", "Alice Liddell"), member("u-b", "bob", null), member("u-c", "carol")];

describe("displayNameOf", () => {
  it("a member's display name where it is set, else their username", () => {
    expect(displayNameOf(members, "u-a", "alice")).toBe("Alice Liddell");
    expect(displayNameOf(members, "u-b", "bob")).toBe("bob");
    expect(displayNameOf(members, "u-c", "carol")).toBe("carol");
    // An empty display name is no display name.
    expect(memberName(member("u-d", "dave", ""))).toBe("dave");
  });

  it("the member's current username over the one a message carries; the fallback for someone no longer a member", () => {
    expect(displayNameOf(members, "u-b", "bob-as-sent")).toBe("bob");
    expect(displayNameOf(members, "u-gone", "erin")).toBe("erin");
    // A deleted account's messages carry "deleted user" (the server rewrote them), and it is not a member.
    expect(displayNameOf(members, "u-deleted", DELETED_USER_NAME)).toBe(DELETED_USER_NAME);
  });
});

describe("nameIndex", () => {
  it("answers like displayNameOf, by id and by username (receipts carry usernames)", () => {
    const names = nameIndex(members);
    for (const m of members) expect(names.of(m.id, "x")).toBe(displayNameOf(members, m.id, "x"));
    expect(names.of("u-gone", "erin")).toBe("erin");
    expect(names.ofUsername("alice")).toBe("Alice Liddell");
    expect(names.ofUsername("bob")).toBe("bob");
    expect(names.ofUsername("stranger")).toBe("stranger");
  });

  it("accounts deleted meanwhile show as deleted user, whatever their old messages carry", () => {
    const names = nameIndex(members, ["u-x"]);
    expect(names.of("u-x", "xavier")).toBe(DELETED_USER_NAME);
    expect(names.of("u-a", "alice")).toBe("Alice Liddell");
  });

  it("outside a room, usernames are shown as they are", () => {
    expect(PLAIN_NAMES.of("u-a", "alice")).toBe("alice");
    expect(PLAIN_NAMES.ofUsername("alice")).toBe("alice");
  });
});

describe("RoomState.names, live", () => {
  const snapshot = (): RoomSnapshot => ({
    room: { id: "r", name: "General", ownerId: "u-a", createdAt: 1 },
    role: "member",
    members: [member("u-a", "alice", null, "owner"), member("u-me", "me"), member("u-x", "xavier")],
    messages: [{ id: "m1", seq: 1, userId: "u-x", username: "xavier", clientId: "c1", text: "hi", createdAt: 1, editedAt: null, deletedAt: null }],
    hasMore: false,
    files: [],
    receipts: [],
    readSeq: 3,
    unread: 0,
    seq: 3,
  });

  const open = () => {
    const room = new RoomState();
    room.setMe("u-me");
    room.applySnapshot(snapshot());
    return room;
  };

  it("member_updated changes a member's name (set, then cleared) in the members list and the names", () => {
    const room = open();
    expect(room.names.of("u-a", "alice")).toBe("alice");
    const updated = (seq: number, displayName: string | null): RoomEvent => ({ type: "member_updated", seq, ts: seq, member: member("u-a", "alice", displayName, "owner") });
    expect(room.applyEvent(updated(4, "Alice L."))).toBe("applied");
    expect(room.names.of("u-a", "alice")).toBe("Alice L.");
    expect(room.members.find((m) => m.id === "u-a")?.displayName).toBe("Alice L.");
    expect(room.members).toHaveLength(3);
    room.applyEvent(updated(5, null));
    expect(room.names.of("u-a", "alice")).toBe("alice");
  });

  it("member_updated with my new role (the owner deleted their account) makes me the owner", () => {
    const room = open();
    expect(room.isOwner).toBe(false);
    room.applyEvent({ type: "member_updated", seq: 4, ts: 4, member: member("u-me", "me", null, "owner") });
    expect(room.isOwner).toBe(true);
  });

  it("member_left with accountDeleted: their loaded messages show deleted user; someone who just left keeps their name", () => {
    const room = open();
    room.applyEvent({ type: "member_left", seq: 4, ts: 4, userId: "u-a", username: "alice" });
    expect(room.names.of("u-a", "alice")).toBe("alice");
    room.applyEvent({ type: "member_left", seq: 5, ts: 5, userId: "u-x", username: DELETED_USER_NAME, accountDeleted: true });
    const [first] = room.messages;
    expect(first && room.names.of(first.userId, first.username)).toBe(DELETED_USER_NAME);
    // Opening another room forgets it.
    stubFetch(() => errorReply(404, "not_found"));
    void room.open("elsewhere");
    expect(room.names.of("u-x", "xavier")).toBe("xavier");
  });
});

describe("the typing line names people as the room does", () => {
  it("describe() resolves each person by id; text keeps usernames", () => {
    const typing = new TypingIndicator();
    typing.set("u-a", "alice", true);
    typing.set("u-b", "bob", true);
    typing.set("u-c", "carol", true, "uploading");
    const names = nameIndex(members);
    expect(typing.describe((id, username) => names.of(id, username))).toBe("Alice Liddell and bob are typing… · carol is uploading a file…");
    expect(typing.text).toBe("alice and bob are typing… · carol is uploading a file…");
    typing.set("u-a", "alice", false);
    expect(typing.describe((id, username) => names.of(id, username))).toBe("bob is typing… · carol is uploading a file…");
  });
});
