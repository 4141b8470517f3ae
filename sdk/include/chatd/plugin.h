/*
 * chatd SDK 2 — what a plugin implements.
 *
 * A plugin is a shared object that exports exactly one symbol,
 * `chatd_plugin_descriptor`, made with CHATD_PLUGIN_DEFINE():
 *
 *     static chatd_status my_init(const struct chatd_host *h, void **state);
 *     static void my_fini(void *state);
 *     static const struct chatd_notify_ops my_ops = {
 *         .size = sizeof my_ops, .notify = my_notify,
 *     };
 *     CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_NOTIFY, .name = "jsonl",
 *                         .version = "1.0", .init = my_init, .fini = my_fini,
 *                         .ops.notify = &my_ops)
 *
 * Growth. Every struct that crosses the ABI, in either direction, starts
 * with `size_t size` (the descriptor starts with its two version numbers,
 * then its size) and only ever grows at its end:
 * - whoever fills a struct sets `size` to sizeof the struct as it was built
 *   (`.size = sizeof x`); the host does it for what it hands a plugin, the
 *   plugin for its descriptor, its ops tables and every struct it answers;
 * - whoever reads one reads only the members that lie within its `size`
 *   and takes a member beyond it as zero / NULL (an operation beyond an ops
 *   table's size as absent). CHATD_HAS(s, member) (host.h) says whether a
 *   member is there; the members of 2.0 always are;
 * - an array of structs is handed over as a pointer to its first element
 *   and a count. Its elements lie back to back, all of one size, and that
 *   `size` of theirs is the array's stride: element i starts at
 *   (const char *)first + i * first->size. A plugin that declares
 *   `struct chatd_room rooms[n]` and sets each `.size = sizeof rooms[0]`
 *   does exactly that;
 * - enum values are explicit and only appended.
 *
 * Versions. A plugin is built for SDK CHATD_ABI_MAJOR.CHATD_ABI_MINOR (the
 * descriptor's abi_major/abi_minor, filled by CHATD_PLUGIN_DEFINE). chatd
 * loads it when the major equals its own, whatever the minor:
 * - a plugin of an older minor runs in a newer chatd: the host reads and
 *   writes only the sizes that plugin's structs have, and never calls an
 *   operation beyond its ops table's size (every operation a minor adds is
 *   optional, and the host has a way without it);
 * - a plugin of a newer minor runs in an older chatd: everything a minor
 *   after 2.0 adds (a host function, a member of a struct the host hands
 *   over) is optional for the plugin too, and the plugin checks it with
 *   CHATD_HOST_HAS(host, fn) / CHATD_HAS(s, member) before use; the host
 *   never looks past the sizes it knows, so the plugin's larger structs
 *   and longer ops tables do no harm.
 * A plugin of another major is refused at start-up with one line that says
 * to rebuild it against this chatd's SDK. The one exception: SDK 1.0 to 1.2
 * plugins still load, through the host's 1.x adapter (docs/plugin-guide.md,
 * "Plugins of SDK 1.x"); they see a host of SDK 1.2.
 *
 * Threads. chatd calls a plugin on one thread only, the core thread (the
 * libevent loop of host->base): init(), fini(), every operation, and every
 * callback the host hands over is to be called there too. A plugin that
 * keeps a thread of its own comes back with host->post.
 *
 * Lifecycle: the loader checks the descriptor (ABI, kind, mandatory ops)
 * before calling init(); init() reads its config through the host and
 * returns its state; the ops are called with that state; fini() releases
 * everything, including every event registered on host->base. Several
 * instances of one plugin may be alive at once, each with its own state:
 * a reload of chat.ini starts a new auth instance while the one it
 * replaces still answers the authentications it had started (its fini
 * comes after the last of their callbacks). Keep no mutable globals.
 *
 * Ownership. Every pointer handed to an operation (and everything it points
 * to) is borrowed for that call: the plugin copies what it keeps. Every
 * pointer a plugin hands to a completion callback is borrowed for that
 * callback: the host copies what it keeps, and the plugin may free it as
 * soon as the callback returned. Descriptor and ops tables stay valid until
 * the plugin is unloaded (they are normally `static const`).
 *
 * Completion and re-entrancy. Asynchronous operations take a completion
 * callback `cb` and an opaque `ctx`. The plugin calls cb exactly once, on the
 * core thread, from the loop (a libevent callback of its own, a posted
 * task): never before the operation's call has returned, nor from inside
 * any other operation call (complete later with host->post when the answer
 * is at hand at once); auth is the one exception (chatd_auth_ops). The host
 * guards it: a storage answer given inside an operation call is logged as
 * a plugin bug and its request fails with CHATD_ERR_INTERNAL. Inside cb the host may call any operation
 * of the same plugin again (a room_get answer starts a message_list): a
 * plugin calls cb when its own state is consistent, and does not touch
 * what the call may have freed (its request record) after cb returned.
 * Inside an operation the plugin may call any host function. Operations in
 * flight at fini() are completed with CHATD_ERR_CLOSED, or dropped: after
 * fini() starts the host no longer expects completions.
 */
#ifndef CHATD_PLUGIN_H
#define CHATD_PLUGIN_H

#include <chatd/host.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum chatd_plugin_kind {
    CHATD_PLUGIN_AUTH = 1,
    CHATD_PLUGIN_STORAGE = 2,
    CHATD_PLUGIN_BROKER = 3,
    CHATD_PLUGIN_NOTIFY = 4,
    CHATD_PLUGIN_FILES = 5, /* SDK 2.10: where attachments' bytes live */
} chatd_plugin_kind;

/* ------------------------------------------------------------------ auth */

/* Role bits of an identity. */
#define CHATD_ROLE_USER 0x1u
#define CHATD_ROLE_AGENT 0x2u
#define CHATD_ROLE_ADMIN 0x4u /* privacy requests: may erase a user's data */
/* The support desk's supervisor: sees every support room and every agent,
 * reads any support room, hands any assigned one on, writes internal
 * notes. Not an agent by itself (no chats are routed to it): a user who
 * also takes chats has CHATD_ROLE_AGENT too. A host that predates the bit
 * ignores it. */
#define CHATD_ROLE_SUPERVISOR 0x8u

/* What a client presented. Any member may be NULL. Filled by the host. */
struct chatd_credentials {
    size_t size;             /* sizeof the struct as the host built it */
    const char *login;       /* STOMP login header */
    const char *passcode;    /* STOMP passcode header (may hold a token) */
    const char *token;       /* bearer token from "Authorization: Bearer ..." */
    const char *remote_addr; /* peer address, for logs and rate limits */
    /* SDK 2.9 (auth: client certificates). The user a client certificate
     * names: the connection came over TLS with a certificate that the CAs
     * of [server] tls_ca verified, and [server] tls_client_user says which
     * of its fields names the user (its commonName, or the first e-mail
     * address or DNS name of its subjectAltName), as UTF-8 without control
     * characters. NULL without such a certificate, and always with
     * tls_client_user off. Read it after CHATD_HAS(cred, tls_identity).
     *
     * The host has checked that it is the user: a `login` that differs is
     * refused before authenticate is called, and an identity answered for
     * another user is refused after. What the plugin decides is whether
     * the certificate alone is enough (no passcode, no token): answer that
     * user, or CHATD_ERR_DENIED. A plugin that never reads it leaves
     * sign-in as it was: a certificate then only decides who may connect. */
    const char *tls_identity;
};

/* Who the client is. Filled by the plugin. */
struct chatd_identity {
    size_t size;              /* sizeof the struct as the plugin built it */
    const char *user;         /* stable user id; required */
    const char *display_name; /* may be NULL */
    uint32_t roles;           /* CHATD_ROLE_* bits */
    int64_t expires_ms;       /* Unix ms after which the session ends; 0 = never */
};

/* st: CHATD_OK with `who` set; CHATD_ERR_DENIED with a short `reason` safe to
 * show the client ("bad credentials", "token expired"); another status when
 * the plugin could not decide (backend down): the client is refused too.
 * Core thread. who, reason and their strings are borrowed for the call: the
 * host copies what it keeps. The host may call authenticate again from
 * inside it. */
typedef void (*chatd_auth_cb)(void *ctx, chatd_status st,
                              const struct chatd_identity *who,
                              const char *reason);

/* SDK 2.7 (auth: revoke). The answer to revoke. st:
 * - CHATD_OK: the token is revoked where authenticate looks, on every
 *   instance that shares the plugin's backend; from now on authenticate
 *   refuses it (CHATD_ERR_DENIED);
 * - CHATD_ERR_DENIED: cred is not a token this plugin accepts now (bad
 *   signature, expired, revoked already), with a short `reason`;
 * - CHATD_ERR_UNSUPPORTED: this plugin, as configured, keeps no list of
 *   revoked tokens;
 * - CHATD_ERR_UNAVAILABLE / CHATD_ERR_TIMEOUT: the backend did not take it
 *   (the token stays valid; the caller may try again);
 * - CHATD_ERR_NOMEM, CHATD_ERR_INTERNAL, CHATD_ERR_CLOSED (fini started).
 * Core thread. reason (may be NULL) is borrowed for the callback. */
typedef void (*chatd_revoke_cb)(void *ctx, chatd_status st, const char *reason);

struct chatd_auth_ops {
    size_t size; /* sizeof the struct as the plugin built it */
    /* Mandatory. Decide who `cred` is. cred is borrowed for the call. Core
     * thread. Unlike every other operation, authenticate may call cb before
     * it returns (a decision from memory needs no round trip): the host
     * copes either way. */
    void (*authenticate)(void *state, const struct chatd_credentials *cred,
                         chatd_auth_cb cb, void *ctx);
    /* SDK 2.7 (auth: revoke). Optional. Revoke the token in `cred` (its
     * `token`, else its `passcode`, as authenticate reads them): the logout
     * of POST /api/logout. The host calls it only for credentials that
     * authenticate accepted a moment before, and the plugin checks them
     * again (it needs what the token says: its id, its expiry). cb as
     * chatd_revoke_cb says, exactly once, never before revoke returned, and
     * CHATD_OK only once the backend confirmed the write. cred is borrowed
     * for the call. Core thread. Without it (or with an older plugin) the
     * host answers a logout "not supported"; the host then closes the
     * sessions of that token on this instance, and other instances close
     * theirs at their next check of it ([stomp] token_recheck_interval). */
    void (*revoke)(void *state, const struct chatd_credentials *cred,
                   chatd_revoke_cb cb, void *ctx);
};

/* --------------------------------------------------------------- storage */

typedef enum chatd_room_kind {
    CHATD_ROOM_SUPPORT = 1, /* a customer and, once claimed, one agent */
    CHATD_ROOM_DIRECT = 2,  /* exactly two members, one room per pair */
    CHATD_ROOM_GROUP = 3,   /* a title and any number of members */
} chatd_room_kind;

typedef enum chatd_room_state {
    CHATD_ROOM_OPEN = 1,      /* direct/group rooms; support: unassigned */
    CHATD_ROOM_ASSIGNED = 2,  /* support: claimed by `agent` */
    CHATD_ROOM_COMPLETED = 3, /* support: the agent finished; read-only */
    CHATD_ROOM_CLOSED = 4,    /* support: the customer closed it; a
                               * read-only transcript until it is purged */
} chatd_room_state;

/* SDK 2.1: what a message is. */
typedef enum chatd_message_kind {
    CHATD_MESSAGE_TEXT = 0,   /* a member's message */
    CHATD_MESSAGE_FILE = 1,   /* reserved for attachments */
    CHATD_MESSAGE_SYSTEM = 2, /* made by the server */
} chatd_message_kind;

/* A message. Filled by the host in message_append's argument, by the
 * plugin in its answers; arrays of messages step by `size` (see "Growth"). */
/* SDK 2.13: struct chatd_message's `reactions`. */
typedef enum chatd_reactions_hint {
    CHATD_REACTIONS_UNKNOWN = 0,
    CHATD_REACTIONS_NONE = 1,
    CHATD_REACTIONS_SOME = 2,
} chatd_reactions_hint;

struct chatd_message {
    size_t size;           /* sizeof the struct as its filler built it */
    const char *room;
    uint64_t seq;          /* assigned by storage, strictly increasing per room from 1 */
    const char *id;        /* assigned by storage, unique across all rooms */
    const char *sender;
    const char *client_id; /* the sender's idempotency key; may be NULL */
    int64_t ts_ms;         /* Unix ms */
    const char *body;      /* not necessarily NUL-terminated */
    size_t body_len;
    /* SDK 2.1: the body's media type as the server accepted it, e.g.
     * "text/plain;charset=utf-8" or "application/json". The host fills it
     * in message_append's argument; a plugin stores it and returns it in its
     * answers. NULL when not known (a 2.0 plugin, a message stored before):
     * the host then derives it from the body (see plugin-guide.md). */
    const char *content_type;
    /* SDK 2.1: what the message is (0, a 2.0 plugin's answer: TEXT), and
     * the seq of the message of the same room it replies to (0: none).
     * Stored and answered as content_type is. */
    chatd_message_kind kind;
    uint64_t reply_to;
    /* SDK 2.2: edits and deletes (message_edit). rev: the room's revision
     * counter when the message last changed (0: never changed since it was
     * stored); edited_ms: when (Unix ms, 0: never); deleted: a tombstone
     * whose sender deleted it (or a room manager did): body empty, body_len
     * 0, content_type, kind and reply_to as they were. The host ignores all
     * three in message_append's argument; a plugin answers them. */
    uint64_t rev;
    int64_t edited_ms;
    bool deleted;
    /* SDK 2.13: what the plugin knew of the message's reactions when it
     * read it, in message_list and room_page answers (the host ignores it
     * elsewhere): CHATD_REACTIONS_UNKNOWN (0, a plugin that does not say),
     * CHATD_REACTIONS_NONE (it had none at that read) or
     * CHATD_REACTIONS_SOME. The host asks reaction_list only for a page's
     * messages that did not say NONE, and not at all when every one did. */
    chatd_reactions_hint reactions;
};

/* A room. Filled by the host in room_create's argument, by the plugin in
 * its answers; arrays of rooms step by `size` (see "Growth"). */
struct chatd_room {
    size_t size;           /* sizeof the struct as its filler built it */
    const char *id;
    chatd_room_kind kind;
    chatd_room_state state;
    const char *title;     /* may be NULL */
    const char *owner;     /* who created it; the customer of a support room */
    const char *agent;     /* the assigned agent, or NULL */
    int64_t created_ms;
    int64_t assigned_ms;   /* 0 until claimed */
    uint64_t last_seq;     /* seq of the newest message, 0 when none */
    const char *const *members;
    size_t nmembers;
    /* Filled when the request named a `for_user`: */
    uint64_t read_seq;                        /* that user's read mark */
    const struct chatd_message *last_message; /* newest message (with its own
                                               * size), or NULL */
    /* A group's admins: members other than the owner who manage
     * the group with it (see group_change). NULL/0 in other rooms, and in
     * room_create's argument (a new group has no admins). */
    const char *const *admins;
    size_t nadmins;
    /* CLOSED: when the room was closed (Unix ms). SDK 2.3: COMPLETED, from
     * a plugin that has room_reopen: when it was completed (room_complete
     * records its own wall clock). 0 otherwise, and ignored in
     * room_create's argument. */
    int64_t closed_ms;
    /* SDK 2.6: the customer's rating of a completed support room
     * (room_rate): rating 1..5, 0 while unrated; rating_comment NULL or
     * UTF-8 (NUL-terminated, at most CHATD_RATING_COMMENT_MAX bytes);
     * rated_ms when it was rated. Answered by a plugin that has room_rate,
     * ignored in room_create's argument. */
    uint32_t rating;
    const char *rating_comment;
    int64_t rated_ms;
    /* SDK 2.12: a support room's topic ("billing"), which routes it to the
     * agents with that skill (docs/support-desk.md, "Topics and skills"):
     * NULL or 1..CHATD_TOPIC_MAX bytes of a-z, 0-9, '-', '_'. Set in
     * room_create's argument (checked by chatd); a plugin that keeps it
     * (optional, as everything a minor adds) stores it with the room and
     * answers it with the room from every operation, NULL for a room
     * without one. A plugin that does not (one built before 2.12 ignores
     * it) has rooms without a topic, which go to any agent. */
    const char *topic;
};

/* The longest topic, in bytes (SDK 2.12). */
#define CHATD_TOPIC_MAX 32

/* A member's role in a group room, in rank order: a higher value
 * outranks a lower one. The owner is the room's `owner` (while a member);
 * an admin is listed in `admins`; every other member is PLAIN. */
typedef enum chatd_member_role {
    CHATD_MEMBER_NONE = 0,  /* not a member */
    CHATD_MEMBER_PLAIN = 1,
    CHATD_MEMBER_ADMIN = 2,
    CHATD_MEMBER_OWNER = 3,
} chatd_member_role;

/* What group_change does. */
typedef enum chatd_group_change_kind {
    /* `user` joins as a PLAIN member, the last to have joined. */
    CHATD_GROUP_ADD = 1,
    /* `user` leaves (or is removed) and their role goes with them. When
     * they are the owner, ownership passes to the admin who joined first,
     * else to the member who joined first (that one is then no admin); with
     * nobody left, `owner` stays as it was. */
    CHATD_GROUP_REMOVE = 2,
    /* `user`'s role becomes `role`: PLAIN or ADMIN; or OWNER, which hands
     * ownership over: `user` becomes the owner (and no admin) and the
     * previous owner, if a member, an ADMIN. */
    CHATD_GROUP_ROLE = 3,
    /* The room's title becomes `title`. */
    CHATD_GROUP_RENAME = 4,
    /* The room goes, as with room_delete: messages, marks, members, roles. */
    CHATD_GROUP_DELETE = 5,
} chatd_group_change_kind;

/* One change to a group, with the condition it depends on. All
 * pointers are borrowed for the call. */
struct chatd_group_change {
    size_t size; /* sizeof the struct as the host built it */
    const char *room_id;
    chatd_group_change_kind what;
    const char *user;       /* ADD, REMOVE, ROLE: whom it is about */
    chatd_member_role role; /* ROLE: PLAIN, ADMIN or OWNER */
    const char *title;      /* RENAME: the new title, UTF-8 */
    /* The condition, decided in the same atomic step as the change: with a
     * non-NULL actor, the change happens only if actor's role is at least
     * actor_min and, when `outrank` is set, higher than user's role (a
     * non-member's is NONE). NULL actor: no condition (the host decided). */
    const char *actor;
    chatd_member_role actor_min;
    bool outrank;
};

/* Which rooms room_list returns. Zero/NULL members do not filter. Filled
 * by the host. */
struct chatd_room_filter {
    size_t size;             /* sizeof the struct as the host built it */
    const char *member;      /* rooms this user belongs to */
    chatd_room_kind kind;    /* 0 = any */
    chatd_room_state state;  /* 0 = any */
    const char *agent;       /* rooms assigned to this agent */
    const char *for_user;    /* fill read_seq and last_message for this user */
    size_t limit;            /* at most this many; 0 = the plugin's maximum */
};

/* Completion callbacks of storage operations. Core thread, exactly once,
 * after the operation returned. Everything the plugin hands over (rooms,
 * messages and every string and array they point to) is borrowed for the
 * call: the host copies what it keeps. Arrays: a pointer to the first
 * element and a count, stepping by the elements' `size` ("Growth"). The
 * host may call operations of the same plugin from inside the callback. */
typedef void (*chatd_room_cb)(void *ctx, chatd_status st, const struct chatd_room *room);
typedef void (*chatd_rooms_cb)(void *ctx, chatd_status st,
                               const struct chatd_room *rooms, size_t n);
typedef void (*chatd_message_cb)(void *ctx, chatd_status st,
                                 const struct chatd_message *msg);
typedef void (*chatd_messages_cb)(void *ctx, chatd_status st,
                                  const struct chatd_message *msgs, size_t n);
typedef void (*chatd_done_cb)(void *ctx, chatd_status st);
/* SDK 2.13: a room and a page of its history (room_page); msgs step by
 * their `size`. */
typedef void (*chatd_room_page_cb)(void *ctx, chatd_status st, const struct chatd_room *room,
                                   const struct chatd_message *msgs, size_t n);

/* What user_erase did; counts of this call only (a repeated erase reports
 * zeros). Filled by the plugin. */
struct chatd_erase_result {
    size_t size;                  /* sizeof the struct as the plugin built it */
    uint64_t rooms_deleted;       /* support rooms the user opened, removed with their history */
    uint64_t messages_erased;     /* the user's messages in other rooms, made tombstones */
    uint64_t memberships_removed; /* other rooms the user no longer belongs to */
};
typedef void (*chatd_erase_cb)(void *ctx, chatd_status st, const struct chatd_erase_result *res);
/* SDK 2.2: one change to a stored message (message_edit). All pointers
 * borrowed for the call. Who may make it (the sender, within the edit
 * window; a room's managers for a delete) is the host's decision, made
 * before the call. */
typedef enum chatd_message_edit_kind {
    CHATD_MESSAGE_EDIT = 1,   /* the body becomes body / content_type */
    CHATD_MESSAGE_DELETE = 2, /* the message becomes a tombstone */
} chatd_message_edit_kind;

struct chatd_message_edit {
    size_t size; /* sizeof the struct as the host built it */
    const char *room_id;
    uint64_t seq;                 /* the message's seq */
    chatd_message_edit_kind what;
    const char *body;             /* EDIT: the new body, not necessarily NUL-terminated */
    size_t body_len;
    const char *content_type;     /* EDIT: its media type */
    int64_t now_ms;               /* becomes edited_ms */
};

/* SDK 2.3: the support desk. A support room handed on (room_transfer).
 * All pointers borrowed for the call. Who may hand it on (its agent, an
 * admin) is the host's decision, made before the call. */
struct chatd_room_transfer {
    size_t size;         /* sizeof the struct as the host built it */
    const char *room_id;
    const char *from;    /* the agent the room must still be assigned to */
    const char *to;      /* the agent it goes to; NULL: back to the unassigned queue */
    int64_t now_ms;      /* becomes assigned_ms when `to` is set */
};

/* SDK 2.3: a completed support room opened again (room_reopen). All
 * pointers borrowed for the call. */
struct chatd_room_reopen {
    size_t size;                /* sizeof the struct as the host built it */
    const char *room_id;
    const char *unique_key;     /* taken again: the customer's one open support room */
    int64_t completed_after_ms; /* only a room completed at or after this (closed_ms) */
    const char *agent;          /* the agent to give it to, if under max_open; NULL: the queue */
    size_t max_open;            /* that agent's limit of ASSIGNED rooms; 0 = none */
    int64_t now_ms;             /* becomes assigned_ms when it goes to `agent` */
};
/* SDK 2.4: a search of messages (message_search). All pointers borrowed
 * for the call. Matches are ordered newest first by (ts_ms, room, seq), all
 * three descending (room ids compared bytewise): one order across rooms,
 * with the cursor a position in it. */
struct chatd_message_search {
    size_t size;       /* sizeof the struct as the host built it */
    /* What to find: UTF-8, NUL-terminated, at least CHATD_SEARCH_MIN_CHARS
     * code points and no control characters (the host checks). A message
     * matches when its body, as stored, holds query as a substring, ASCII
     * letters A-Z matching a-z (whether other letters match across case
     * is the plugin's, docs/storage.md). Deleted messages (tombstones) and
     * erased ones (sender "") never match; an edited one matches by the
     * body it has now. */
    const char *query;
    /* The query as a JSON string holds it with every character beyond
     * ASCII written \uXXXX (a pair of them above U+FFFF) and " and \
     * escaped, as many JSON encoders write a body; NULL when that is the
     * query itself. A message whose body holds query_json (ASCII letters,
     * the hex digits too, matching in either case) matches as well. */
    const char *query_json;
    const char *const *rooms; /* the rooms to search, nrooms >= 1; a room
                               * that is not there has no matches */
    size_t nrooms;
    /* The cursor: before_room NULL for the newest matches; else only
     * matches after the position (before_ts_ms, before_room, before_seq)
     * in the order above, i.e. older ones. */
    int64_t before_ts_ms;
    const char *before_room;
    uint64_t before_seq;
    size_t limit;      /* at most this many, >= 1 */
};
/* The shortest query, in code points, every plugin finds. */
#define CHATD_SEARCH_MIN_CHARS 2

/* SDK 2.5: reactions. One member's emoji on one message (reaction_change).
 * All pointers borrowed for the call. Who may react, and whether the emoji
 * is acceptable (1..CHATD_REACTION_EMOJI_MAX bytes of UTF-8), is the host's
 * decision, made before the call. */
#define CHATD_REACTION_EMOJI_MAX 32
struct chatd_reaction_change {
    size_t size;          /* sizeof the struct as the host built it */
    const char *room_id;
    uint64_t seq;         /* the message's seq */
    const char *user;     /* who reacts */
    const char *emoji;    /* NUL-terminated UTF-8, compared byte for byte */
    bool add;             /* true: add the reaction; false: take it back */
    size_t max_distinct;  /* add: at most this many distinct emoji per message (0: no bound) */
};

/* SDK 2.5: how many members reacted to message `seq` with `emoji`, and
 * whether the user the request named (for_user) is one of them. Filled by
 * the plugin; arrays step by `size` ("Growth"). */
struct chatd_reaction_count {
    size_t size;          /* sizeof the struct as the plugin built it */
    uint64_t seq;
    const char *emoji;
    uint64_t count;       /* >= 1: an emoji nobody holds any more is not listed */
    bool me;
};
/* counts[0..n): ordered by seq, then by emoji byte for byte (memcmp). */
typedef void (*chatd_reactions_cb)(void *ctx, chatd_status st, const struct chatd_reaction_count *counts,
                                   size_t n);

/* SDK 2.6: a customer's rating of a completed support room (room_rate).
 * All pointers borrowed for the call. Who may rate (the room's customer)
 * and what a rating may be is the host's decision, made before the call. */
#define CHATD_RATING_COMMENT_MAX 1000
struct chatd_room_rating {
    size_t size;           /* sizeof the struct as the host built it */
    const char *room_id;
    uint32_t rating;       /* 1..5 */
    const char *comment;   /* UTF-8 without NUL, at most CHATD_RATING_COMMENT_MAX bytes; NULL: none */
    int64_t now_ms;        /* becomes rated_ms */
};

/* n: how many things the operation did. */
typedef void (*chatd_count_cb)(void *ctx, chatd_status st, uint64_t n);
/* SDK 2.11: the ids of the rooms an operation removed (room_purge_ids);
 * ids[0..n) borrowed for the callback, NULL with n = 0 when none. */
typedef void (*chatd_ids_cb)(void *ctx, chatd_status st, const char *const *ids, size_t n);

/* SDK 2.8: canned replies. A desk's saved reply, which its agents insert
 * by its shortcut. Whoever fills it sets every member; all strings are
 * NUL-terminated UTF-8. Who may save one, and what a shortcut, title and
 * body may be (the bounds below), is the host's decision, made before the
 * call; the plugin stores and compares them byte for byte. */
#define CHATD_CANNED_DESK_MAX 64      /* bytes of a desk's name */
#define CHATD_CANNED_SHORTCUT_MAX 128 /* bytes of a shortcut (32 code points at most) */
#define CHATD_CANNED_TITLE_MAX 200    /* bytes of a title */
#define CHATD_CANNED_BODY_MAX 4000    /* bytes of a body */
struct chatd_canned_reply {
    size_t size;            /* sizeof the struct as its filler built it */
    const char *desk;       /* e.g. "default": 1 to CHATD_CANNED_DESK_MAX bytes of a-z 0-9 - _ */
    const char *shortcut;   /* e.g. "refund" (agents type "/refund"); unique per desk */
    const char *title;
    const char *body;       /* may hold line breaks */
    const char *updated_by; /* who saved it last */
    int64_t updated_ms;     /* when (Unix ms) */
};
/* replies[0..n): arrays step by `size` ("Growth"). */
typedef void (*chatd_canned_cb)(void *ctx, chatd_status st, const struct chatd_canned_reply *replies, size_t n);

/* The storage operations up to read_mark are mandatory; the others are
 * optional and say what the host does without them (an operation a later
 * minor appends is always optional). Each may complete with
 * CHATD_ERR_UNAVAILABLE or CHATD_ERR_TIMEOUT when the backend is down, and
 * then must not have changed anything the caller will be told about later.
 *
 * Thread, ownership, re-entrancy: as at the top of this file. Each
 * operation is called on the core thread with borrowed arguments, returns
 * at once (no blocking I/O), and completes through cb exactly once, from
 * the loop: never before it returned, nor inside another operation. Answers that carry rooms or messages fill every
 * member of the struct as the plugin built it (zero where it has nothing
 * to say) and set `size`.
 *
 * Order. What the host relies on, and all it relies on:
 * - Appends to one room are stored in call order: of two message_append
 *   calls for one room, the one called first gets the lower seq, whatever
 *   lies between the calls (reads of that room, read marks, appends to other
 *   rooms) and in whatever order their callbacks run.
 * - A read of a room (room_get, message_list) sees every append to that room
 *   called before it; it may see appends called after it.
 * Callbacks may run in any order, also for one room: the host orders what
 * it does with the answers itself. It calls a session's appends in the
 * order the session sent them, after its room checks, so these rules are
 * what keeps one sender's messages in order (docs/protocol.md). */
struct chatd_storage_ops {
    size_t size; /* sizeof the struct as the plugin built it */

    /* Create `room` (its id chosen by the host; last_seq, read_seq and
     * last_message ignored). With a non-NULL unique_key at most one room
     * exists per key: if one does, completes CHATD_ERR_EXISTS with that room
     * and creates nothing. OK with the new room otherwise. */
    void (*room_create)(void *state, const struct chatd_room *room,
                        const char *unique_key, chatd_room_cb cb, void *ctx);
    /* OK with the room, or CHATD_ERR_NOT_FOUND. for_user may be NULL. */
    void (*room_get)(void *state, const char *room_id, const char *for_user,
                     chatd_room_cb cb, void *ctx);
    /* Rooms matching the filter, oldest created first. */
    void (*room_list)(void *state, const struct chatd_room_filter *filter,
                      chatd_rooms_cb cb, void *ctx);
    /* Atomically: if the room is a support room in state OPEN, set state
     * ASSIGNED, agent, assigned_ms = now_ms, add the agent as a member, and
     * complete OK with the room. CHATD_ERR_CONFLICT (with the room) if it is
     * not OPEN any more; CHATD_ERR_NOT_FOUND if gone. Exactly one of any
     * number of concurrent claimants, on any instance, gets OK. */
    void (*room_claim)(void *state, const char *room_id, const char *agent,
                       int64_t now_ms, chatd_room_cb cb, void *ctx);
    /* Atomically: if ASSIGNED to `agent`, set COMPLETED and release the
     * room's unique key (its customer may open a new support room); OK with
     * the room. CHATD_ERR_CONFLICT if not in state ASSIGNED to that agent. */
    void (*room_complete)(void *state, const char *room_id, const char *agent,
                          chatd_room_cb cb, void *ctx);
    /* Remove the room, its messages, read marks and unique key. */
    void (*room_delete)(void *state, const char *room_id, chatd_done_cb cb, void *ctx);
    /* Add or remove a member; adding one already there is OK. Removing a
     * member also drops their admin role. */
    void (*member_add)(void *state, const char *room_id, const char *user,
                       chatd_done_cb cb, void *ctx);
    void (*member_remove)(void *state, const char *room_id, const char *user,
                          chatd_done_cb cb, void *ctx);
    /* Durably store msg (seq and id ignored) with the next seq of its room
     * and a new id; OK with the stored message once it is durable. If the
     * room already holds a message from the same sender with the same
     * non-NULL client_id, completes CHATD_ERR_EXISTS with that message and
     * stores nothing. CHATD_ERR_NOT_FOUND if the room is gone. */
    void (*message_append)(void *state, const struct chatd_message *msg,
                           chatd_message_cb cb, void *ctx);
    /* A page of history. before != 0: the newest `limit` messages with
     * seq < before, newest first. Otherwise: the oldest `limit` messages with
     * seq > after, oldest first (after = 0: from the start). */
    void (*message_list)(void *state, const char *room_id, uint64_t before,
                         uint64_t after, size_t limit, chatd_messages_cb cb, void *ctx);
    /* Raise user's read mark in the room to seq (never lowers it). */
    void (*read_mark)(void *state, const char *room_id, const char *user,
                      uint64_t seq, chatd_done_cb cb, void *ctx);

    /* Group roles. Optional: without it the host stores no roles
     * (a group's owner is its only manager; see docs/plugin-guide.md).
     * Atomically on the group ch->room_id, across every instance sharing
     * the backend: check ch's condition, then make the change (see
     * chatd_group_change_kind). Completes, the first that applies:
     * - CHATD_ERR_NOT_FOUND (no room) when there is no such room;
     * - CHATD_ERR_INVALID (no room) when it is not a group;
     * - CHATD_ERR_DENIED with the room when the condition fails;
     * - CHATD_ERR_CONFLICT with the room when `user` is not a member
     *   (REMOVE, ROLE), or ROLE would give the owner a role below owner
     *   (ownership only moves by ROLE OWNER to someone else);
     * - CHATD_ERR_EXISTS with the room when there is nothing to change (ADD
     *   of a member, ROLE to the role held);
     * - CHATD_OK with the room after the change (DELETE: as it was before).
     * Nothing changes unless the answer is OK. */
    void (*group_change)(void *state, const struct chatd_group_change *ch,
                         chatd_room_cb cb, void *ctx);

    /* Transcripts. Optional: without room_close the host deletes
     * a support room its customer closes (room_delete); without room_purge
     * it refuses `[rooms] retention` at start; without user_erase it
     * answers an erase request 501. */

    /* Atomically: if the room is a support room not CLOSED, set state
     * CLOSED and closed_ms = now_ms, release its unique key (its customer
     * may open a new support room), so that it leaves the unassigned queue
     * and its agent's assigned rooms (room_list by state OPEN or ASSIGNED
     * no longer finds it), and complete OK with the room.
     * Members, messages and read marks stay. CHATD_ERR_CONFLICT (with the
     * room) if it is CLOSED already or not a support room;
     * CHATD_ERR_NOT_FOUND if gone. */
    void (*room_close)(void *state, const char *room_id, int64_t now_ms,
                       chatd_room_cb cb, void *ctx);
    /* Remove up to `limit` (>= 1) support rooms in state CLOSED with
     * closed_ms < closed_before_ms, each with its messages, members and
     * read marks, as room_delete does; complete OK with how many. A room
     * is removed whole or not at all; several instances may purge at once
     * (each room is counted by the one that removed it). The host calls
     * again while the answer equals limit. */
    void (*room_purge)(void *state, int64_t closed_before_ms, size_t limit,
                       chatd_count_cb cb, void *ctx);
    /* Erase what the store holds of `user` in the rooms `user` belongs
     * to, atomically:
     * - a support room whose owner is `user` is removed with its messages,
     *   members and read marks (as room_delete);
     * - in each other one, every message whose sender is `user` becomes a
     *   tombstone: seq, id and ts_ms stay, sender becomes "" (no user has
     *   an empty name), client_id NULL, body empty (body_len 0); `user`'s
     *   read mark and membership are removed, in a group with their role
     *   as CHATD_GROUP_REMOVE does (a group they owned passes on; with
     *   nobody left its owner stays), and a direct room's unique key is
     *   released (a later direct room of the pair is a new one).
     * Rooms `user` left before are not searched; the agent of a support
     * room kept stays as it is. Complete OK with the counts; an erase of a
     * user the store knows nothing of is OK with zeros. */
    void (*user_erase)(void *state, const char *user, chatd_erase_cb cb, void *ctx);

    /* SDK 2.2: edits and deletes. Optional: without them the host answers
     * an edit or delete 501 (and a since-rev replay replays no changes). */

    /* Atomically, across every instance sharing the backend: if the room
     * holds a message at ed->seq that is not deleted (nor erased: sender
     * ""), take the room's next revision (a per-room counter, from 1,
     * strictly increasing, separate from seq: seqs stay dense and a change
     * counts as no new message) and store it as the message's rev, with
     * edited_ms = ed->now_ms and, for EDIT, body and content_type replaced,
     * or for DELETE, deleted set and the body emptied. Complete OK with the
     * message as it now is, once durable. CHATD_ERR_NOT_FOUND (no message)
     * when there is no such room or no message at that seq;
     * CHATD_ERR_CONFLICT with the message as it is when it is deleted or
     * erased already. Of two concurrent changes of one message, each gets
     * its own rev, and the message ends as the one with the higher rev says. */
    void (*message_edit)(void *state, const struct chatd_message_edit *ed, chatd_message_cb cb, void *ctx);
    /* The room's messages whose rev > after_rev, at most `limit` (>= 1), in
     * rev order (oldest change first), as they now are: what a client that
     * has seen every change up to after_rev missed. OK with none for a room
     * without changes or no such room. */
    void (*message_revisions)(void *state, const char *room_id, uint64_t after_rev, size_t limit,
                              chatd_messages_cb cb, void *ctx);

    /* SDK 2.3: the support desk. Optional: without room_claim_limited the
     * host's automatic assignment claims with room_claim (two instances
     * routing at once may then give an agent one room above
     * [support] max_chats_per_agent); without room_transfer it answers a
     * transfer 501, without room_reopen a customer's message into a
     * completed room is refused as before. A plugin that has room_reopen
     * records in room_complete when the room was completed (closed_ms).
     * An agent's open rooms are the support rooms in state ASSIGNED to
     * them; each operation below that counts them decides, across every
     * instance sharing the backend, in the same atomic step as its change,
     * so that no two of them give one agent more than max_open. */

    /* As room_claim, and only if `agent` holds fewer than max_open (0: no
     * limit) open rooms. Completes, the first that applies:
     * CHATD_ERR_NOT_FOUND (no room) if gone; CHATD_ERR_CONFLICT with the
     * room if it is no support room in state OPEN; CHATD_ERR_LIMIT with
     * the room (unchanged) if the agent holds max_open or more; OK with
     * the room now ASSIGNED to the agent. */
    void (*room_claim_limited)(void *state, const char *room_id, const char *agent, size_t max_open,
                               int64_t now_ms, chatd_room_cb cb, void *ctx);
    /* Atomically: if the room is a support room in state ASSIGNED to
     * t->from, hand it on: to t->to (agent = to, assigned_ms = now_ms, `to`
     * added as a member) or, with to NULL, back to the unassigned queue
     * (state OPEN, agent NULL, assigned_ms 0), where room_list by state
     * OPEN finds it in its created order. Either way t->from stops being a
     * member (unless it is t->to); messages and read marks stay. No limit
     * is checked (a hand-over is a person's decision, as room_claim).
     * CHATD_ERR_NOT_FOUND (no room) if gone; CHATD_ERR_CONFLICT with the
     * room if it is not ASSIGNED to t->from (completed, closed, handed on
     * meanwhile); OK with the room as it now is. */
    void (*room_transfer)(void *state, const struct chatd_room_transfer *t, chatd_room_cb cb, void *ctx);
    /* Atomically: if the room is a support room in state COMPLETED with
     * closed_ms >= ro->completed_after_ms, and no room holds ro->unique_key,
     * take the key for it and open it again: ASSIGNED to ro->agent
     * (assigned_ms = now_ms, the agent a member) when ro->agent is set and
     * holds fewer than ro->max_open (0: no limit) open rooms, else OPEN
     * (agent NULL, assigned_ms 0, in the unassigned queue; the previous
     * agent stays a member). closed_ms becomes 0. Completes
     * CHATD_ERR_NOT_FOUND (no room) if gone; CHATD_ERR_CONFLICT with the
     * room if it is not COMPLETED or completed before completed_after_ms;
     * CHATD_ERR_EXISTS with the room holding the key (the customer's other
     * open support room); OK with the room as it now is. */
    void (*room_reopen)(void *state, const struct chatd_room_reopen *ro, chatd_room_cb cb, void *ctx);

    /* SDK 2.5: reactions. Optional: without them the host answers a
     * reaction 501 and history carries none. A reaction is a (message,
     * user, emoji) triple held at most once; it is state, not history: it
     * takes no seq and no revision. Deleting a room (room_delete,
     * room_purge, CHATD_GROUP_DELETE, user_erase of its customer) removes
     * its reactions; user_erase removes the user's reactions in every room
     * it searches. */

    /* Atomically, across every instance sharing the backend, on the
     * message rc->seq of rc->room_id. Completes, the first that applies:
     * - CHATD_ERR_NOT_FOUND (no counts) when there is no such room or no
     *   message at that seq;
     * - CHATD_ERR_CONFLICT (no counts) when the message is deleted or
     *   erased (sender ""): a tombstone takes no reactions;
     * - add: CHATD_ERR_EXISTS with the counts when rc->user holds that
     *   reaction already (adding twice is one reaction); CHATD_ERR_LIMIT
     *   with the counts when the message holds max_distinct distinct emoji
     *   and rc->emoji is not one of them;
     * - remove: CHATD_ERR_EXISTS with the counts when rc->user holds no
     *   such reaction (nothing to take back);
     * - CHATD_OK with the counts after the change, once durable.
     * The counts are the message's (every emoji of it, `me` for rc->user).
     * Nothing changes unless the answer is OK. */
    void (*reaction_change)(void *state, const struct chatd_reaction_change *rc, chatd_reactions_cb cb, void *ctx);
    /* The reactions of the messages seqs[0..nseqs) of room_id (nseqs >= 1,
     * in any order), `me` for for_user (may be NULL: me false). OK with
     * none for messages without reactions, or no such room. */
    void (*reaction_list)(void *state, const char *room_id, const uint64_t *seqs, size_t nseqs,
                          const char *for_user, chatd_reactions_cb cb, void *ctx);

    /* SDK 2.6: ratings. Optional: without it the host answers a rating
     * 501, and rooms show none. */

    /* Atomically, across every instance sharing the backend: if the room
     * is a support room in state COMPLETED or CLOSED without a rating,
     * store rt's rating, comment and rated_ms = now_ms with the room (they
     * stay with it through a reopen, and go with it when it is deleted,
     * purged or erased). Completes CHATD_ERR_NOT_FOUND (no room) if gone;
     * CHATD_ERR_CONFLICT with the room as it is if it is no support room,
     * not COMPLETED or CLOSED, or rated already (rating != 0): a room is
     * rated once, and of two concurrent ratings exactly one gets OK; OK
     * with the room as it now is, once durable. */
    void (*room_rate)(void *state, const struct chatd_room_rating *rt, chatd_room_cb cb, void *ctx);

    /* SDK 2.4: search. Optional: without it the host answers a search 501.
     * (It lies after the operations of 2.5 and 2.6: the table grows in the
     * order operations land, whatever minor names them; the host reads only
     * what a plugin's table size covers.) */

    /* The messages of q->rooms that match q->query (see struct
     * chatd_message_search), newest first, from the cursor on, at most
     * q->limit, as they now are. OK with none when nothing matches. A
     * plugin may complete CHATD_ERR_LIMIT when the search would cost more
     * than its configured bound (docs/storage.md says which bound). */
    void (*message_search)(void *state, const struct chatd_message_search *q, chatd_messages_cb cb, void *ctx);

    /* SDK 2.8: canned replies. Optional: without them the host answers the
     * canned replies' API 501. A reply is keyed by (desk, shortcut); it is
     * no room's and no user's: user_erase and room deletions leave it. */

    /* Atomically, across every instance sharing the backend: store
     * *reply, replacing the desk's reply of the same shortcut (every member
     * of it) if there is one. With max_per_desk > 0 a new shortcut is
     * refused with CHATD_ERR_LIMIT (nothing stored) while the desk holds
     * max_per_desk replies, counted in the same atomic step (a replacement
     * is never refused). Of concurrent puts of one shortcut every one
     * completes OK and the reply ends as one of them wrote it, whole.
     * Completes OK with n = 1 when the shortcut was new, n = 0 when it
     * replaced a reply, once durable. */
    void (*canned_put)(void *state, const struct chatd_canned_reply *reply, size_t max_per_desk, chatd_count_cb cb,
                       void *ctx);
    /* Remove the desk's reply of that shortcut: OK, or CHATD_ERR_NOT_FOUND
     * when there is none. */
    void (*canned_delete)(void *state, const char *desk, const char *shortcut, chatd_done_cb cb, void *ctx);
    /* The desk's first `limit` (>= 1) replies ordered by shortcut, byte
     * for byte (memcmp, a prefix first). OK with none for a desk without
     * replies. */
    void (*canned_list)(void *state, const char *desk, size_t limit, chatd_canned_cb cb, void *ctx);

    /* SDK 2.11: retention that names its rooms. Optional: without it the
     * host purges with room_purge, and what it keeps beside a purged room
     * (its attachments' bytes in the files plugin, its internal notes)
     * stays. As room_purge, in one atomic step, and complete OK with the
     * ids of the rooms this call removed (n <= limit; a room another
     * instance removed first is not named). */
    void (*room_purge_ids)(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb, void *ctx);

    /* SDK 2.13: a history page with its room. Optional: without it the
     * host calls room_get (for_user NULL) and then message_list. The same
     * answers as those two in that order, in one call, so that a backend
     * reads both in one round trip (one statement where it can): OK with
     * the room and the page of message_list(room_id, before, after, limit)
     * (n may be 0); CHATD_ERR_NOT_FOUND (no room, no messages) when there
     * is no such room. The page is of one moment at which the room was as
     * answered, or later. */
    void (*room_page)(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                      chatd_room_page_cb cb, void *ctx);
};

/* ---------------------------------------------------------------- broker */

/* A broker carries opaque event bytes between chatd instances on named
 * channels. It delivers every event published on a channel to every instance
 * subscribed to it (its own included) through host->deliver, in publish
 * order per channel and publisher. It may lose events while disconnected:
 * storage is the record, the broker only the fast path.
 *
 * Thread: every operation on the core thread; none of them blocks. channel
 * and data are borrowed for the call. Re-entrancy: an operation may call
 * host->deliver, host->channel_live and host->set_ready (say, a broker that
 * loops its own publish straight back): the host holds those until the
 * operation returned, so the core never sees them inside its own call. */
struct chatd_broker_ops {
    size_t size; /* sizeof the struct as the plugin built it */
    /* Mandatory. Start/stop receiving a channel. The host calls subscribe
     * once per channel while it has local interest, and unsubscribe when the
     * last local subscriber leaves. channel is borrowed.
     * subscribe returns CHATD_OK when events published from now on reach
     * this instance, or CHATD_PENDING when the backend has still to
     * confirm: the plugin then calls host->channel_live once it has (from
     * inside subscribe too: the host holds it until subscribe returned).
     * While disconnected, return OK: the host catches subscribers up once
     * the plugin is ready again. */
    chatd_status (*subscribe)(void *state, const char *channel);
    chatd_status (*unsubscribe)(void *state, const char *channel);
    /* Mandatory. Send data to every subscriber of channel; borrowed. Returns
     * CHATD_OK when queued, CHATD_ERR_UNAVAILABLE while disconnected. May
     * hand the event to host->deliver before it returns (a loopback). */
    chatd_status (*publish)(void *state, const char *channel,
                            const void *data, size_t len);
};

/* ---------------------------------------------------------------- notify */

/* One notification for one recipient about one message. Filled by the
 * host. */
struct chatd_notification {
    size_t size;           /* sizeof the struct as the host built it */
    const char *recipient;
    const char *room;
    chatd_room_kind room_kind;
    const char *message_id;
    uint64_t seq;
    const char *sender;
    const char *preview;   /* the start of the message's text (a JSON message's
                            * `text`), [notify] preview_length characters at
                            * most, never cut inside one; valid UTF-8 */
    uint64_t unread;       /* the recipient's unread count in the room */
    const char *json;      /* all of the above as the documented JSON object */
    size_t json_len;
};

struct chatd_notify_ops {
    size_t size; /* sizeof the struct as the plugin built it */
    /* Mandatory. Deliver n, all borrowed for the call, without blocking;
     * queue, retry and drop (and log) by the plugin's own bounds. Core
     * thread; nothing to complete. The plugin may call host functions from
     * inside it; the host never calls notify from inside another call of
     * the same plugin. */
    void (*notify)(void *state, const struct chatd_notification *n);
};

/* ----------------------------------------------------------------- files */

/* SDK 2.10: files. A files plugin keeps the bytes of attachments (and what
 * the server said of them) and nothing else: who may upload or read one,
 * the size and type limits, the per-user quota and the sniffing of bytes
 * are the host's (docs/files.md). Every operation is asynchronous like
 * storage's: cb exactly once, on the core thread, never before the call
 * returned (host->post), never from inside another operation. A plugin
 * that does blocking I/O (a directory) does it on a thread of its own. */

/* One stored file. Filled by the host in put_begin's and put_finish's
 * argument, by the plugin in its answers. Strings are UTF-8; `name` and
 * `content_type` are what the host accepted (sanitized, sniffed): the
 * plugin stores them as they are. */
struct chatd_file {
    size_t size;              /* sizeof the struct as its filler built it */
    const char *id;           /* assigned by the plugin in put_begin: letters,
                               * digits, '-' and '_' only, at most 64 bytes,
                               * unique across every instance sharing the
                               * backend */
    const char *room;         /* the room it was uploaded to */
    const char *owner;        /* who uploaded it (quota, erasure) */
    const char *name;         /* file name as shown; never NULL in answers */
    const char *content_type; /* e.g. "image/png" */
    uint64_t length;          /* bytes; put_finish: the bytes written */
    uint32_t width, height;   /* an image's pixels; 0 when not known */
    int64_t created_ms;       /* Unix ms of put_begin */
};

/* The answer of put_begin, put_finish and read. f (and what it points to)
 * is borrowed for the callback; NULL unless st is CHATD_OK. read also
 * hands data: the bytes asked for (len of them, possibly fewer than asked
 * at the end of the file), borrowed for the callback. */
typedef void (*chatd_file_cb)(void *ctx, chatd_status st, const struct chatd_file *f);
typedef void (*chatd_file_read_cb)(void *ctx, chatd_status st, const struct chatd_file *f, const void *data,
                                   size_t len);
/* The answer of put_write, put_abort and the removals. removed: how many
 * files went (removals; 0 otherwise). */
typedef void (*chatd_files_done_cb)(void *ctx, chatd_status st, uint64_t removed);
/* The answer of usage: the bytes and files stored for one owner (uploads
 * under way counted with the bytes written so far). */
typedef void (*chatd_file_usage_cb)(void *ctx, chatd_status st, uint64_t bytes, uint64_t files);

struct chatd_files_ops {
    size_t size; /* sizeof the struct as the plugin built it */

    /* Mandatory. Start storing a file of f->room by f->owner named f->name
     * of type f->content_type (f->id, length and size are ignored). OK
     * with the file as reserved: its new id, length 0. The file is not
     * readable until put_finish. One never finished is discarded in
     * time: a plugin of one instance when it next starts, a backend that
     * instances share once it is older than any upload could take (it
     * may be another instance's, under way). */
    void (*put_begin)(void *state, const struct chatd_file *f, chatd_file_cb cb, void *ctx);
    /* Mandatory. Append len bytes (borrowed for the call) to the upload
     * `id`. The host calls it once at a time per upload, in order, the
     * next after the previous completed: completion is the back-pressure.
     * OK once written; NOT_FOUND for no such upload (aborted, finished,
     * removed with its room); LIMIT when the backend is full. */
    void (*put_write)(void *state, const char *id, const void *data, size_t len, chatd_files_done_cb cb, void *ctx);
    /* Mandatory. Make the upload f->id durable and readable with f's
     * name, content_type, width and height. INVALID when f->length is not
     * the number of bytes written; OK with the file as stored. */
    void (*put_finish)(void *state, const struct chatd_file *f, chatd_file_cb cb, void *ctx);
    /* Mandatory. Discard the upload `id` and its bytes (a refused or
     * broken upload). OK, or NOT_FOUND. */
    void (*put_abort)(void *state, const char *id, chatd_files_done_cb cb, void *ctx);
    /* Mandatory. The file `id` and at most `max` of its bytes from byte
     * `offset` on (max 0: the file only). NOT_FOUND for no such finished
     * file; INVALID when offset is beyond its length (offset == length
     * answers no bytes). A large download is several reads. */
    void (*read)(void *state, const char *id, uint64_t offset, size_t max, chatd_file_read_cb cb, void *ctx);
    /* Mandatory. Remove one file (finished or not). OK, or NOT_FOUND. */
    void (*remove)(void *state, const char *id, chatd_files_done_cb cb, void *ctx);
    /* Mandatory. Remove every file of a room (its deletion), or of an
     * owner (a user's erasure), uploads under way included. OK with how
     * many, 0 when none. */
    void (*remove_room)(void *state, const char *room, chatd_files_done_cb cb, void *ctx);
    void (*remove_owner)(void *state, const char *owner, chatd_files_done_cb cb, void *ctx);
    /* Mandatory. What owner stores now (the quota's measure). */
    void (*usage)(void *state, const char *owner, chatd_file_usage_cb cb, void *ctx);
};

/* ------------------------------------------------------------ descriptor */

/* The descriptor. Its first two members stay where they are in every
 * major, so that any chatd can tell which SDK a plugin was built for; its
 * `size` comes next. */
struct chatd_plugin {
    uint32_t abi_major;      /* CHATD_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;      /* CHATD_ABI_MINOR the plugin was built with */
    size_t size;             /* sizeof the struct as the plugin built it */
    chatd_plugin_kind kind;
    const char *name;        /* e.g. "memory"; required */
    const char *version;     /* the plugin's own version; required */
    const char *description; /* one line; may be NULL */
    /* Mandatory. Read config through host, set *state, return CHATD_OK; or
     * call host->config_error and return an error. Nothing to free on error:
     * fini is not called when init fails. Core thread, once, before any
     * operation. host stays valid until fini returns; init may call every
     * host function (config_* only here). */
    chatd_status (*init)(const struct chatd_host *host, void **state);
    /* Mandatory. Release state and everything registered on host->base.
     * Core thread, once, after the last operation; the host calls no
     * operation and expects no completion once fini has started. */
    void (*fini)(void *state);
    union {
        const struct chatd_auth_ops *auth;
        const struct chatd_storage_ops *storage;
        const struct chatd_broker_ops *broker;
        const struct chatd_notify_ops *notify;
        const struct chatd_files_ops *files; /* SDK 2.10 */
    } ops;
};

#define CHATD_PLUGIN_SYMBOL "chatd_plugin_descriptor"

/* Defines the one exported symbol. Arguments are designated initializers of
 * struct chatd_plugin; every member not named is zero, and the ABI version
 * and size are filled in from the headers the plugin is built with. */
#define CHATD_PLUGIN_DEFINE(...)                                              \
    CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void);    \
    CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void)     \
    {                                                                         \
        static const struct chatd_plugin descriptor = {                       \
            .abi_major = CHATD_ABI_MAJOR, .abi_minor = CHATD_ABI_MINOR,       \
            .size = sizeof(struct chatd_plugin), __VA_ARGS__};                                                     \
        return &descriptor;                                                   \
    }

#ifdef __cplusplus
}
#endif

#endif /* CHATD_PLUGIN_H */
