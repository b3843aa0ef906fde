/**
 * Typed calls for every Parley HTTP endpoint the SPA uses. Replies are
 * validated against the shared schemas in protocol/ (`#protocol`).
 */
import { z } from "zod";
import {
  EventsPage,
  HistoryPage,
  Member,
  Message,
  ReadReply,
  RoomList,
  RoomSnapshot,
  RoomSummary,
  UnreadCounts,
  User,
} from "#protocol";
import { request, type RequestOptions } from "./http.ts";

const UserReply = z.object({ user: User });
const RoomReply = z.object({ room: RoomSummary });
const RoomInfo = RoomSnapshot.shape.room;
const RenamedReply = z.object({ room: RoomInfo });
const MemberReply = z.object({ member: Member });
const MessageReply = z.object({ message: Message });

/** `{ id, name, ownerId, createdAt }` as returned for a single room. */
export type RoomInfo = z.infer<typeof RoomInfo>;

/** Username and password as typed into the sign-in form. */
/** The answer to a read-cursor move. */

export interface CredentialsInput {
  username: string;
  password: string;
}

const enc = encodeURIComponent;

/** The Parley HTTP API. Every method throws `ApiError` on failure. */
export const api = {
  /** The signed-in user. A 401 here means "signed out" and does not trigger the redirect handler. */
  me: (options?: RequestOptions) => request("GET", "/api/me", User, undefined, { allow401: true, ...options }),

  /** Total and per-room unread counts for the badge. */
  unread: (options?: RequestOptions) => request("GET", "/api/me/unread", UnreadCounts, undefined, options),

  /** Create an account and sign in. */
  register: async (body: CredentialsInput) =>
    (await request("POST", "/api/auth/register", UserReply, body, { allow401: true })).user,

  /** Sign in with an existing account. */
  login: async (body: CredentialsInput) =>
    (await request("POST", "/api/auth/login", UserReply, body, { allow401: true })).user,

  /** End the session. */
  logout: () => request("POST", "/api/auth/logout", null, undefined, { allow401: true }),

  /** Set my display name (`null` clears it); answers me as I am now. */
  updateMe: (displayName: string | null) => request("PATCH", "/api/me", User, { displayName }),

  /**
   * Change my password; my other sessions are signed out. A wrong current
   * password is a 401 `invalid_credentials`, which must not sign this tab out.
   */
  changePassword: (currentPassword: string, newPassword: string) =>
    request("POST", "/api/me/password", null, { currentPassword, newPassword }, { allow401: true }),

  /** End every session of mine, this one too. */
  signOutEverywhere: () => request("DELETE", "/api/me/sessions", null, undefined, { allow401: true }),

  /** Delete my account (the password again); a wrong one is a 401 `invalid_credentials`. */
  deleteAccount: (password: string) => request("DELETE", "/api/me", null, { password }, { allow401: true }),

  /** The rooms the signed-in user belongs to. */
  rooms: async (options?: RequestOptions) => (await request("GET", "/api/rooms", RoomList, undefined, options)).rooms,

  /** Create a room owned by the signed-in user. */
  createRoom: async (name: string) => (await request("POST", "/api/rooms", RoomReply, { name })).room,

  /** Everything the room page needs (members, recent messages, files), current at `seq`. */
  room: (roomId: string, options?: RequestOptions) =>
    request("GET", `/api/rooms/${enc(roomId)}`, RoomSnapshot, undefined, options),

  /** Rename a room (owner only). */
  renameRoom: async (roomId: string, name: string) =>
    (await request("PATCH", `/api/rooms/${enc(roomId)}`, RenamedReply, { name })).room,

  /** Add a user to a room by username (owner only). Idempotent: someone already in it comes back as they are (200). */
  addMember: async (roomId: string, username: string) =>
    (await request("POST", `/api/rooms/${enc(roomId)}/members`, MemberReply, { username })).member,

  /** Remove a member (owner), or leave the room (a member removing themself). */
  removeMember: (roomId: string, userId: string) =>
    request("DELETE", `/api/rooms/${enc(roomId)}/members/${enc(userId)}`, null),

  /** Mark read up to `seq` (forward only). */
  markRead: (roomId: string, seq: number) => request("POST", `/api/rooms/${enc(roomId)}/read`, ReadReply, { seq }),

  /** Mark unread from `seq` on (the cursor moves back before it). */
  markUnread: (roomId: string, seq: number) => request("POST", `/api/rooms/${enc(roomId)}/unread`, ReadReply, { seq }),

  /** Up to `limit` messages older than seq `before`, oldest first, and whether even older ones exist. */
  history: (roomId: string, before: number, limit = 50, options?: RequestOptions) =>
    request("GET", `/api/rooms/${enc(roomId)}/messages?before=${before}&limit=${limit}`, HistoryPage, undefined, options),

  /**
   * Every event after seq `after`, in order (the fallback while the socket is down).
   * Throws `ApiError` with code `resync_required` (409) when `after` is too old: reload the snapshot.
   */
  events: (roomId: string, after: number, options?: RequestOptions) =>
    request("GET", `/api/rooms/${enc(roomId)}/events?after=${after}`, EventsPage, undefined, options),

  /** Edit one of my messages over HTTP (used when the socket is down). */
  editMessage: async (roomId: string, messageId: string, text: string) =>
    (await request("PATCH", `/api/rooms/${enc(roomId)}/messages/${enc(messageId)}`, MessageReply, { text })).message,

  /** Delete a message (mine, or any as the owner) over HTTP (used when the socket is down). */
  deleteMessage: (roomId: string, messageId: string) =>
    request("DELETE", `/api/rooms/${enc(roomId)}/messages/${enc(messageId)}`, null),
};
