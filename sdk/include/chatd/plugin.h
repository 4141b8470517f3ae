/*
 * chatd SDK — what a plugin implements.
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
 * Lifecycle, all on the core thread: the loader checks the descriptor (ABI,
 * kind, mandatory ops) before calling init(); init() reads its config through
 * the host and returns its state; the ops are called with that state; fini()
 * releases everything, including every event registered on host->base.
 *
 * Asynchronous operations take a completion callback `cb` and an opaque
 * `ctx`. The plugin calls cb exactly once, on the core thread, and never
 * before the operation's call has returned (complete later with host->post
 * when the answer is at hand at once). Pointers handed to cb are valid only
 * during the callback; the host copies what it keeps. Pointers handed to an
 * operation are valid only during that call; the plugin copies what it keeps.
 * Operations in flight at fini() are completed with CHATD_ERR_CLOSED, or
 * dropped: after fini() starts the host no longer expects completions.
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
} chatd_plugin_kind;

/* ------------------------------------------------------------------ auth */

/* Role bits of an identity. */
#define CHATD_ROLE_USER 0x1u
#define CHATD_ROLE_AGENT 0x2u
/* SDK 1.2: transcripts. */
#define CHATD_ROLE_ADMIN 0x4u /* privacy requests: may erase a user's data */

/* What a client presented. Any member may be NULL. */
struct chatd_credentials {
    const char *login;       /* STOMP login header */
    const char *passcode;    /* STOMP passcode header (may hold a token) */
    const char *token;       /* bearer token from "Authorization: Bearer ..." */
    const char *remote_addr; /* peer address, for logs and rate limits */
};

/* Who the client is. */
struct chatd_identity {
    const char *user;         /* stable user id; required */
    const char *display_name; /* may be NULL */
    uint32_t roles;           /* CHATD_ROLE_* bits */
    int64_t expires_ms;       /* Unix ms after which the session ends; 0 = never */
};

/* st: CHATD_OK with `who` set; CHATD_ERR_DENIED with a short `reason` safe to
 * show the client ("bad credentials", "token expired"); another status when
 * the plugin could not decide (backend down): the client is refused too. */
typedef void (*chatd_auth_cb)(void *ctx, chatd_status st,
                              const struct chatd_identity *who,
                              const char *reason);

struct chatd_auth_ops {
    size_t size; /* sizeof the struct as the plugin built it */
    /* Mandatory. Decide who `cred` is. cred is borrowed for the call. */
    void (*authenticate)(void *state, const struct chatd_credentials *cred,
                         chatd_auth_cb cb, void *ctx);
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
    CHATD_ROOM_CLOSED = 4,    /* SDK 1.2, support: the customer closed it; a
                               * read-only transcript until it is purged */
} chatd_room_state;

struct chatd_message {
    const char *room;
    uint64_t seq;          /* assigned by storage, strictly increasing per room from 1 */
    const char *id;        /* assigned by storage, unique across all rooms */
    const char *sender;
    const char *client_id; /* the sender's idempotency key; may be NULL */
    int64_t ts_ms;         /* Unix ms */
    const char *body;      /* not necessarily NUL-terminated */
    size_t body_len;
};

struct chatd_room {
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
    const struct chatd_message *last_message; /* newest message, or NULL */
    /* SDK 1.2. A group's admins: members other than the owner who manage
     * the group with it (see group_change). NULL/0 in other rooms, and in
     * room_create's argument (a new group has no admins). */
    const char *const *admins;
    size_t nadmins;
    /* SDK 1.2: transcripts. CLOSED: when the room was closed (Unix ms);
     * 0 otherwise, and ignored in room_create's argument. */
    int64_t closed_ms;
};

/* SDK 1.2. A member's role in a group room, in rank order: a higher value
 * outranks a lower one. The owner is the room's `owner` (while a member);
 * an admin is listed in `admins`; every other member is PLAIN. */
typedef enum chatd_member_role {
    CHATD_MEMBER_NONE = 0,  /* not a member */
    CHATD_MEMBER_PLAIN = 1,
    CHATD_MEMBER_ADMIN = 2,
    CHATD_MEMBER_OWNER = 3,
} chatd_member_role;

/* SDK 1.2. What group_change does. */
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

/* SDK 1.2. One change to a group, with the condition it depends on. All
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

/* Which rooms room_list returns. Zero/NULL members do not filter. */
struct chatd_room_filter {
    const char *member;      /* rooms this user belongs to */
    chatd_room_kind kind;    /* 0 = any */
    chatd_room_state state;  /* 0 = any */
    const char *agent;       /* rooms assigned to this agent */
    const char *for_user;    /* fill read_seq and last_message for this user */
    size_t limit;            /* at most this many; 0 = the plugin's maximum */
};

typedef void (*chatd_room_cb)(void *ctx, chatd_status st, const struct chatd_room *room);
typedef void (*chatd_rooms_cb)(void *ctx, chatd_status st,
                               const struct chatd_room *rooms, size_t n);
typedef void (*chatd_message_cb)(void *ctx, chatd_status st,
                                 const struct chatd_message *msg);
typedef void (*chatd_messages_cb)(void *ctx, chatd_status st,
                                  const struct chatd_message *msgs, size_t n);
typedef void (*chatd_done_cb)(void *ctx, chatd_status st);

/* SDK 1.2: transcripts. What user_erase did; counts of this call only (a
 * repeated erase reports zeros). */
struct chatd_erase_result {
    uint64_t rooms_deleted;       /* support rooms the user opened, removed with their history */
    uint64_t messages_erased;     /* the user's messages in other rooms, made tombstones */
    uint64_t memberships_removed; /* other rooms the user no longer belongs to */
};
typedef void (*chatd_erase_cb)(void *ctx, chatd_status st, const struct chatd_erase_result *res);
/* SDK 1.2: transcripts. n: how many things the operation did. */
typedef void (*chatd_count_cb)(void *ctx, chatd_status st, uint64_t n);

/* Every storage operation of SDK 1.0 is mandatory; those added later say
 * whether they are. Each may complete with CHATD_ERR_UNAVAILABLE or
 * CHATD_ERR_TIMEOUT when the backend is down, and then must not have changed
 * anything the caller will be told about later.
 *
 * How this table and the data structs grow (docs/plugin-guide.md, "ABI
 * rules"): an operation added in a minor is appended at the end of the
 * table, a field added to a data struct (chatd_room, chatd_message, ...) at
 * the end of that struct, each marked "SDK 1.N". The host calls an operation
 * added in 1.N, and reads a field added in 1.N from what a plugin hands it,
 * only when the plugin's descriptor says abi_minor >= N; a plugin built for
 * an older minor keeps working without that feature, and the host steps
 * over the arrays it returns with the struct size of that plugin's minor.
 * A plugin built for 1.N fills every field of 1.N (zero where it has
 * nothing to say).
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
    size_t size;

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
    /* Add or remove a member; adding one already there is OK. SDK 1.2:
     * removing a member also drops their admin role. */
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

    /* SDK 1.2: group roles. Optional: without it the host stores no roles
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

    /* SDK 1.2: transcripts. Optional: without room_close the host deletes
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
};

/* ---------------------------------------------------------------- broker */

/* A broker carries opaque event bytes between chatd instances on named
 * channels. It delivers every event published on a channel to every instance
 * subscribed to it (its own included) through host->deliver, in publish
 * order per channel and publisher. It may lose events while disconnected:
 * storage is the record, the broker only the fast path. */
struct chatd_broker_ops {
    size_t size;
    /* Mandatory. Start/stop receiving a channel. The host calls subscribe
     * once per channel while it has local interest, and unsubscribe when the
     * last local subscriber leaves. channel is borrowed.
     * subscribe returns CHATD_OK when events published from now on reach
     * this instance, or (hosts of ABI 1.1 and later: check
     * CHATD_HOST_HAS(host, channel_live)) CHATD_PENDING when the backend
     * has still to confirm: the plugin then calls host->channel_live once it
     * has, never before subscribe returned. While disconnected, return OK:
     * the host catches subscribers up once the plugin is ready again. */
    chatd_status (*subscribe)(void *state, const char *channel);
    chatd_status (*unsubscribe)(void *state, const char *channel);
    /* Mandatory. Send data to every subscriber of channel; borrowed. Returns
     * CHATD_OK when queued, CHATD_ERR_UNAVAILABLE while disconnected. */
    chatd_status (*publish)(void *state, const char *channel,
                            const void *data, size_t len);
};

/* ---------------------------------------------------------------- notify */

/* One notification for one recipient about one message. */
struct chatd_notification {
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
    size_t size;
    /* Mandatory. Deliver n, all borrowed for the call, without blocking;
     * queue, retry and drop (and log) by the plugin's own bounds. */
    void (*notify)(void *state, const struct chatd_notification *n);
};

/* ------------------------------------------------------------ descriptor */

struct chatd_plugin {
    uint32_t abi_major;      /* CHATD_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;      /* CHATD_ABI_MINOR the plugin was built with */
    chatd_plugin_kind kind;
    const char *name;        /* e.g. "memory"; required */
    const char *version;     /* the plugin's own version; required */
    const char *description; /* one line; may be NULL */
    /* Mandatory. Read config through host, set *state, return CHATD_OK; or
     * call host->config_error and return an error. Nothing to free on error:
     * fini is not called when init fails. */
    chatd_status (*init)(const struct chatd_host *host, void **state);
    /* Mandatory. Release state and everything registered on host->base. */
    void (*fini)(void *state);
    union {
        const struct chatd_auth_ops *auth;
        const struct chatd_storage_ops *storage;
        const struct chatd_broker_ops *broker;
        const struct chatd_notify_ops *notify;
    } ops;
};

#define CHATD_PLUGIN_SYMBOL "chatd_plugin_descriptor"

/* Defines the one exported symbol. Arguments are designated initializers of
 * struct chatd_plugin; every member not named is zero, and the ABI version is
 * filled in from the headers the plugin is built with. */
#define CHATD_PLUGIN_DEFINE(...)                                              \
    CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void);    \
    CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void)     \
    {                                                                         \
        static const struct chatd_plugin descriptor = {                       \
            .abi_major = CHATD_ABI_MAJOR, .abi_minor = CHATD_ABI_MINOR,       \
            __VA_ARGS__};                                                     \
        return &descriptor;                                                   \
    }

#ifdef __cplusplus
}
#endif

#endif /* CHATD_PLUGIN_H */
