/* The rooms domain: what a caller (a user with roles) may do to rooms,
 * carried out through the storage port, its events told through a port the
 * composition root wires to the clients' side. Operations take plain
 * arguments and answer through a callback with a status and data; they
 * know nothing of HTTP, STOMP or JSON. One file per concern:
 *   rooms/support.h      a support room's life: open, queue, claim, complete, close
 *   rooms/transfer.h     an assigned support room handed to another agent or the queue
 *   rooms/reopen.h       a completed support room opened again by its customer's message
 *   rooms/rating.h       the customer's rating of a completed support room
 *   rooms/notes.h        internal notes of a support room, for agents and supervisors only
 *   rooms/transcript.h   a support room's transcript, read page by page
 *   rooms/canned_replies.h a desk's saved replies agents insert by a shortcut
 *   rooms/membership.h   direct and group rooms: create, list, show, leave
 *   rooms/group_changes.h a group's members, roles, title, deletion
 *   rooms/history.h      history pages with cursors, since-seq replay pages
 *   rooms/messages.h     a room message: who may send, append, publish, notify
 *   rooms/message_edits.h a message edited or deleted, and the changes replayed
 *   rooms/reactions.h    members' emoji reactions to messages
 *   rooms/notices.h      who hears of a stored message, and how
 *   rooms/read_marks.h   read marks
 *   rooms/typing.h       the typing signal
 *   rooms/erase.h        an admin's erase of one user's data
 *   rooms/availability.h agents online, away or offline, and their loads
 *   rooms/routing.h      [support] assign: a new support room's agent
 *   rooms/first_response.h [support] first_response_target: customers waiting too long
 *   rooms/topic_wait.h   [support] topic_wait: when a topic room may go to any agent
 *   rooms/search.h       messages found by a part of their text, in the rooms one reads
 *   rooms/user_presence.h users' presence (online, away, last seen) for those sharing a room
 *   rooms/files.h        attachments: who may upload or read, types, quota, removal
 * Every callback runs on the core thread, exactly once; a refusal decided
 * from the arguments alone comes before the call returns, every other
 * answer later (the storage plugins answer later). What a callback is
 * handed is valid only during the call. */
#ifndef CHATD_ROOMS_H
#define CHATD_ROOMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chatd/plugin.h>

#include "rooms/presence_status.h"

struct plugin;
struct metrics;

/* How an operation ended. 0 is success. */
enum room_status {
    ROOM_OK = 0,
    ROOM_EXISTS,        /* done before, or already so: the data is what is there */
    ROOM_NOT_FOUND,     /* no such room (or one the caller may not see) */
    ROOM_FORBIDDEN,     /* the caller lacks the right */
    ROOM_CONFLICT,      /* the room's state refuses it (claimed, closed, ...) */
    ROOM_BAD_REQUEST,   /* the arguments do not make a request */
    ROOM_NOT_SUPPORTED, /* the storage plugin lacks the operation */
    ROOM_UNAVAILABLE,   /* the storage failed; why = its chatd_strerror() */
    ROOM_LIMIT,         /* the storage's limit was reached; why = its chatd_strerror() */
    ROOM_NOMEM,         /* out of memory */
};

/* Every answer: a status and, when not OK, why (a sentence for the client;
 * for ROOM_UNAVAILABLE the storage's status as chatd_strerror() says it). */
struct room_answer {
    enum room_status status;
    const char *why;
};

/* A room, or NULL. Rooms handed over are whole structs of this SDK
 * whatever minor the storage plugin was built for. */
typedef void (*room_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_room *room);
typedef void (*rooms_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_room *rooms, size_t n);
typedef void (*done_answer_cb)(void *ctx, const struct room_answer *a);

/* What a member's leaving did: left a group, or (the customer of a support
 * room) closed it, its transcript kept or, with a storage plugin without
 * transcripts, deleted with it. */
enum room_leaving { ROOM_LEFT_GROUP = 1, ROOM_CLOSED_KEPT, ROOM_CLOSED_DELETED };
typedef void (*leave_answer_cb)(void *ctx, const struct room_answer *a, enum room_leaving how);

/* What the rooms tell clients without being asked. The composition root
 * wires it to the side that encodes and publishes events; every member is
 * mandatory. Strings are borrowed for the call. */
struct room_events_port {
    void *ctx;
    /* A support room was opened: it joins the unassigned queue. */
    void (*opened)(void *ctx, const struct chatd_room *r);
    /* `user` has a new room: created with them in it, or they were added.
     * r is the room as stored, NULL when the storage did not say. */
    void (*added)(void *ctx, const char *user, const char *room_id, const struct chatd_room *r);
    /* An agent claimed a support room: on the room, on the queue, to its customer. */
    void (*claimed)(void *ctx, const struct chatd_room *r);
    /* The assigned agent completed a support room. */
    void (*completed)(void *ctx, const struct chatd_room *r);
    /* The customer closed a support room; r as stored, NULL when the room
     * went with its history (a storage without transcripts). */
    void (*closed)(void *ctx, const char *room_id, const char *by, const struct chatd_room *r);
    void (*member_joined)(void *ctx, const char *room_id, const char *user, const char *by);
    /* `user` left (by NULL) or was removed by `by`, or their data was
     * erased: their subscriptions to the room end with it, on every
     * instance. */
    void (*member_left)(void *ctx, const char *room_id, const char *user, const char *by, bool erased);
    void (*role_changed)(void *ctx, const char *room_id, const char *user, chatd_member_role role, const char *by);
    void (*renamed)(void *ctx, const char *room_id, const char *title, const char *by);
    /* The room is gone (by NULL: an erase removed it): every subscription
     * to it ends. */
    void (*deleted)(void *ctx, const char *room_id, const char *by, bool erased);
    /* user's read mark is seq now, leaving `unread` messages after it */
    void (*read)(void *ctx, const char *room_id, const char *user, uint64_t seq, uint64_t unread);
    void (*typing)(void *ctx, const char *room_id, const char *user);
    /* A message was stored: its event on the room. content_type and trace
     * may be NULL; origin: the id the sender's side gave the operation. */
    void (*message)(void *ctx, const struct chatd_message *m, const char *content_type, const char *trace,
                    uint64_t origin);
    /* A stored message was edited or deleted (m->deleted) by `by`: m as it
     * now is, with its rev; trace may be NULL; origin as for message. */
    void (*message_changed)(void *ctx, const struct chatd_message *m, const char *by, const char *trace,
                            uint64_t origin);
    /* `user` added (added) or took back a reaction `emoji` to message
     * `seq`: counts[0..n) are the message's counts now (`me` is the
     * reacting user's). */
    void (*reaction)(void *ctx, const char *room_id, uint64_t seq, const char *emoji, const char *user, bool added,
                     const struct chatd_reaction_count *counts, size_t n);
    /* A member online but not watching the room hears of a message. */
    void (*message_notice)(void *ctx, const struct chatd_room *r, const struct chatd_message *m, const char *member,
                           const char *preview);
    /* A member offline hears of it through the notify plugins. */
    void (*message_offline)(void *ctx, const struct chatd_room *r, const struct chatd_message *m, const char *member,
                            const char *text, size_t text_len, const char *preview);
    /* An agent's availability changed as this instance sees it ("online",
     * "away", "offline"): told to this instance's watchers only, since
     * every instance sees every change (rooms/availability.h). */
    void (*agent_status)(void *ctx, const char *agent, const char *status);
    /* A support room was handed on by `by` (its agent, or an admin) from
     * agent `from` to r->agent, or (r->agent NULL) back to the unassigned
     * queue; note (may be NULL) is for agents only, never for the
     * customer. `from` is no member any more: their subscriptions to the
     * room end. */
    void (*transferred)(void *ctx, const struct chatd_room *r, const char *from, const char *by, const char *note);
    /* The customer wrote into a completed support room and it is open
     * again: assigned to r->agent, or (r->agent NULL) in the unassigned
     * queue. */
    void (*reopened)(void *ctx, const struct chatd_room *r);
    /* The customer rated their completed support room: r as stored, with
     * its rating. Told to the agents. */
    void (*rated)(void *ctx, const struct chatd_room *r);
    /* A waiting customer's place in the unassigned queue changed: 1 is
     * next; estimated_wait_ms < 0 when there is no estimate yet. Told on
     * the instance that routes (rooms/queue_position.h). */
    void (*queue_position)(void *ctx, const char *customer, const char *room_id, size_t position,
                           long long estimated_wait_ms);
    /* A customer has waited for an agent's message longer than [support]
     * first_response_target (target_ms) since waiting_since_ms: told once
     * per wait, by the instance that keeps it (rooms/first_response.h). */
    void (*sla_breached)(void *ctx, const char *room_id, const char *customer, int64_t waiting_since_ms,
                         long long target_ms);
    /* `user`'s presence as clients see it changed (rooms/user_presence.h):
     * told to `to`, who shares a room with them (or is them). last_seen_ms:
     * when their last session ended, 0 when unknown. */
    void (*presence)(void *ctx, const char *to, const char *user, enum user_status status, int64_t last_seen_ms);
    /* An agent or supervisor wrote an internal note into a support room
     * (rooms/notes.h): m->room is the support room's id. Told on the
     * room's notes only, for the desk's readers, never on the room. trace
     * may be NULL; origin as for message. */
    void (*note)(void *ctx, const struct chatd_message *m, const char *trace, uint64_t origin);
    /* A member could not be told (no preview could be made). */
    void (*notice_failed)(void *ctx, const char *member, const char *room_id, const char *event, const char *why);
};

/* Who is around, as presence knows it (cluster-wide). */
struct room_presence_port {
    const void *ctx;
    bool (*online)(const void *ctx, const char *user);
    bool (*watching)(const void *ctx, const char *user, const char *room_id);
    /* The support desk's (rooms/availability.h); NULL: no agent is away,
     * no agent is known, an agent's choice is refused. */
    bool (*away)(const void *ctx, const char *agent);
    void (*set_away)(const void *ctx, const char *agent, bool away);
    void (*each_agent)(const void *ctx, void (*fn)(void *fctx, const char *agent), void *fctx);
    /* Clients' presence (rooms/presence_status.h): a user's status as told
     * and when their last session ended (0: unknown); a user's own choice
     * to be away or back. NULL: presence is not kept, nothing is told. */
    enum user_status (*status)(const void *ctx, const char *user, int64_t *last_seen_ms);
    void (*set_user_away)(const void *ctx, const char *user, bool away);
};

struct routing;
struct availability;
struct first_response;
struct files_policy;
struct support_skills;
struct message_body_reader;

/* The domain's context: the ports it answers through. Owned by the
 * composition root, which fills every member. */
struct rooms {
    struct plugin *storage;
    struct room_events_port events;
    struct room_presence_port presence;
    size_t preview_chars;    /* [notify] preview_length */
    struct metrics *metrics; /* counts what the domain did (users erased) */
    size_t max_chats_per_agent; /* [support]; 0 = unlimited */
    struct routing *routing;    /* automatic assignment; NULL = manual */
    struct availability *availability; /* the statuses last told; NULL: none told */
    long long edit_window_ms;   /* [rooms] edit_window: how long a sender edits; 0 = never */
    long long reopen_window_ms; /* [support] reopen_window: a completed room reopens this long; 0 = never */
    long long topic_wait_ms;    /* [support] topic_wait: a topic room goes to any agent after this; 0 = never */
    struct first_response *first_response; /* [support] first_response_target; NULL: no waits kept */
    bool canned_agents_write;   /* [support] canned_writers = agents: agents change canned replies too */
    const struct support_skills *skills; /* [support] skills; NULL: nobody has a skill */
    struct plugin *files;                  /* [files]; NULL: no attachments */
    const struct files_policy *files_policy; /* with files */
    struct files_forget *forgets;          /* rooms/files.c: removals awaiting the plugin */
    const struct message_body_reader *bodies; /* reads message bodies (rooms/message_body.h) */
};

/* The answer for a storage status: OK, EXISTS, NOT_FOUND (why:
 * not_found), LIMIT and UNAVAILABLE (why: chatd_strerror). */
struct room_answer room_answer_of(chatd_status st, const char *not_found);

/* The room `room_id` as stored, for the operations that start with it:
 * NOT_FOUND "no such room" when it is not there. for_user (may be NULL)
 * fills read_seq and last_message. Who may see it is the operation's rule. */
void rooms_look_up(struct rooms *r, const char *room_id, const char *for_user, room_answer_cb cb, void *ctx);
/* Create `room` (unique_key as storage's room_create has it), tell its
 * events (a support room opened, the other members added), answer OK with
 * it, or EXISTS with the one there already. */
void rooms_create(struct rooms *r, const struct chatd_room *room, const char *unique_key, room_answer_cb cb,
                  void *ctx);

#endif
