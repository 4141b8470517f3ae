#include "rooms/transfer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "plugins/storage_port.h"
#include "rooms/first_response.h"
#include "rooms/room_rules.h"
#include "rooms/routing.h"
#include "rooms/system_message.h"
#include "utf8.h"

struct transfer_op {
    struct rooms *r;
    room_answer_cb cb;
    void *ctx;
    uint32_t roles;
    bool to_queue;
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
    char to[USER_NAME_MAX + 1];
    char from[USER_NAME_MAX + 1];
    char *note;
    /* The room as the storage answered the hand-over, kept until the
     * system message is stored. */
    struct chatd_room room_after;
    char *after_agent, *after_owner;
    char **after_members;
    size_t after_nmembers;
};

static void op_free(struct transfer_op *op)
{
    for (size_t i = 0; i < op->after_nmembers; i++)
        free(op->after_members[i]);
    free(op->after_members);
    free(op->after_agent);
    free(op->after_owner);
    free(op->note);
    free(op);
}

static void finish(struct transfer_op *op, const struct room_answer *a, const struct chatd_room *room)
{
    op->cb(op->ctx, a, room);
    op_free(op);
}

struct agent_search {
    const char *name;
    bool found;
};

static void agent_seen(void *ctx, const char *agent)
{
    struct agent_search *s = ctx;
    s->found |= strcmp(s->name, agent) == 0;
}

/* Whether `name` is an agent this instance has heard of (presence). */
static bool known_agent(const struct rooms *r, const char *name)
{
    struct agent_search s = {name, false};
    if (r->presence.each_agent)
        r->presence.each_agent(r->presence.ctx, agent_seen, &s);
    return s.found;
}

static void message_posted(void *ctx, const struct room_answer *a)
{
    struct transfer_op *op = ctx;
    /* The hand-over is stored whatever became of its message. */
    if (a->status != ROOM_OK)
        log_warn("room %s transferred, its system message not stored: %s", op->room, a->why ? a->why : "");
    finish(op, &(struct room_answer){ROOM_OK, NULL}, &op->room_after);
}

/* What the customer reads in the room: who handed it on, to whom. */
static void transfer_text(const struct transfer_op *op, char *out, size_t len)
{
    if (op->to_queue)
        snprintf(out, len, "%s passed this chat on; the next available agent will answer.", op->user);
    else
        snprintf(out, len, "%s passed this chat on to %s.", op->user, op->to);
}

static bool keep_room(struct transfer_op *op, const struct chatd_room *room)
{
    op->room_after = *room;
    op->room_after.members = NULL;
    op->room_after.nmembers = 0;
    op->room_after.admins = NULL;
    op->room_after.nadmins = 0;
    op->room_after.last_message = NULL;
    op->room_after.title = NULL;
    op->room_after.id = op->room;
    if ((room->agent && !(op->after_agent = strdup(room->agent))) ||
        (room->owner && !(op->after_owner = strdup(room->owner))) ||
        !(op->after_members = calloc(room->nmembers ? room->nmembers : 1, sizeof *op->after_members)))
        return false;
    for (size_t i = 0; i < room->nmembers; i++)
        if (!(op->after_members[op->after_nmembers++] = strdup(room->members[i])))
            return false;
    op->room_after.agent = op->after_agent;
    op->room_after.owner = op->after_owner;
    op->room_after.members = (const char *const *)op->after_members;
    op->room_after.nmembers = op->after_nmembers;
    return true;
}

static void transferred_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct transfer_op *op = ctx;
    struct rooms *r = op->r;
    if (st == CHATD_ERR_CONFLICT) {
        finish(op, &(struct room_answer){ROOM_CONFLICT, "the room was completed, closed or handed on meanwhile"},
               NULL);
        return;
    }
    if (st != CHATD_OK || !answer) {
        struct room_answer a = room_answer_of(st == CHATD_OK ? CHATD_ERR_INTERNAL : st, "no such room");
        finish(op, &a, NULL);
        return;
    }
    struct chatd_room room = storage_room(r->storage, answer, 0);
    if (!keep_room(op, &room)) {
        /* Stored, but no memory to tell of it: the answer says so. */
        finish(op, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    r->events.transferred(r->events.ctx, &op->room_after, op->from, op->user, op->note);
    if (!op->room_after.agent) { /* back in the queue: the customer waits for the next agent */
        first_response_wait(r->first_response, room.id, room.owner, clock_wall_ms(), room.last_seq, false);
        routing_requeued(r->routing, room.id);
    }
    routing_kick(r->routing); /* a room in the queue, a place free */
    char text[USER_NAME_MAX * 2 + 128];
    transfer_text(op, text, sizeof text);
    system_message_post(r, &op->room_after, op->user, text, message_posted, op);
}

/* A supervisor gave a waiting room to an agent: a claim on the agent's
 * behalf, told as one (and to the agent, who did not ask). */
static void assigned_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct transfer_op *op = ctx;
    struct rooms *r = op->r;
    if (st == CHATD_ERR_CONFLICT) {
        finish(op, &(struct room_answer){ROOM_CONFLICT, "the room was claimed or closed meanwhile"}, NULL);
        return;
    }
    if (st != CHATD_OK || !answer) {
        struct room_answer a = room_answer_of(st == CHATD_OK ? CHATD_ERR_INTERNAL : st, "no such room");
        finish(op, &a, NULL);
        return;
    }
    struct chatd_room room = storage_room(r->storage, answer, 0);
    if (r->metrics)
        metrics_observe_wait(r->metrics->support_wait, &r->metrics->support_wait_sum,
                             room.assigned_ms - routing_queued_since(r, room.id, room.created_ms));
    r->events.claimed(r->events.ctx, &room);
    r->events.added(r->events.ctx, op->to, room.id, &room);
    finish(op, &(struct room_answer){ROOM_OK, NULL}, &room);
}

static void looked_up(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct transfer_op *op = ctx;
    struct rooms *r = op->r;
    bool admin = op->roles & (CHATD_ROLE_ADMIN | CHATD_ROLE_SUPERVISOR);
    bool supervisor = op->roles & CHATD_ROLE_SUPERVISOR;
    struct room_answer refused = {ROOM_OK, NULL};
    if (a->status != ROOM_OK)
        refused = *a;
    else if (!room_can_see(room, op->user, op->roles) && !admin)
        refused = (struct room_answer){ROOM_NOT_FOUND, "no such room"};
    else if (room->kind != CHATD_ROOM_SUPPORT)
        refused = (struct room_answer){ROOM_BAD_REQUEST, "only support rooms are transferred"};
    else if (room->state == CHATD_ROOM_OPEN && supervisor && op->to_queue)
        refused = (struct room_answer){ROOM_CONFLICT, "the room is waiting in the queue already"};
    else if (room->state == CHATD_ROOM_OPEN && supervisor) {
        /* A supervisor gives a waiting room to an agent: the storage's
         * claim decides, as for the agent's own claim (no limit). */
        void *state;
        storage_ops(r->storage, &state)->room_claim(state, op->room, op->to, clock_wall_ms(), assigned_cb, op);
        return;
    } else if (room->state == CHATD_ROOM_OPEN)
        refused = (struct room_answer){ROOM_CONFLICT, "the room is waiting in the queue: claim it instead"};
    else if (room->state != CHATD_ROOM_ASSIGNED)
        refused = (struct room_answer){ROOM_CONFLICT, room->state == CHATD_ROOM_CLOSED ? "the room is closed"
                                                                                       : "the room is completed"};
    else if (!room->agent || (strcmp(room->agent, op->user) != 0 && !admin))
        refused = (struct room_answer){ROOM_FORBIDDEN,
                                       "only the assigned agent (or a supervisor or admin) transfers a room"};
    else if (!op->to_queue && strcmp(room->agent, op->to) == 0)
        refused = (struct room_answer){ROOM_BAD_REQUEST, "the room is assigned to that agent already"};
    if (refused.status != ROOM_OK) {
        finish(op, &refused, NULL);
        return;
    }
    snprintf(op->from, sizeof op->from, "%s", room->agent);
    struct chatd_room_transfer t = {.size = sizeof t, .room_id = op->room, .from = op->from,
                                    .to = op->to_queue ? NULL : op->to, .now_ms = clock_wall_ms()};
    void *state;
    storage_ops(r->storage, &state)->room_transfer(state, &t, transferred_cb, op);
}

void support_transfer(struct rooms *r, const struct transfer_request *req, room_answer_cb cb, void *ctx)
{
    const char *why = NULL;
    enum room_status refused = ROOM_OK;
    if (!(req->roles & (CHATD_ROLE_AGENT | CHATD_ROLE_ADMIN | CHATD_ROLE_SUPERVISOR)))
        refused = ROOM_FORBIDDEN, why = "only agents transfer rooms";
    else if (req->note && (req->note_len > TRANSFER_NOTE_MAX ||
                           !utf8_valid((const unsigned char *)req->note, req->note_len) ||
                           memchr(req->note, '\0', req->note_len)))
        refused = ROOM_BAD_REQUEST, why = "a note is UTF-8 text of at most 1000 bytes";
    else if (req->to && (!*req->to || strlen(req->to) > USER_NAME_MAX))
        refused = ROOM_BAD_REQUEST, why = "\"to\" names an agent, or is null for the queue";
    else if (req->to && !known_agent(r, req->to))
        refused = ROOM_NOT_FOUND, why = "no such agent";
    else if (req->to && !r->presence.online(r->presence.ctx, req->to))
        refused = ROOM_CONFLICT, why = "that agent is offline";
    else if (!storage_has_transfer(r->storage))
        refused = ROOM_NOT_SUPPORTED, why = "the storage plugin does not transfer rooms";
    if (refused != ROOM_OK) {
        cb(ctx, &(struct room_answer){refused, why}, NULL);
        return;
    }
    struct transfer_op *op = calloc(1, sizeof *op);
    if (!op || (req->note && req->note_len && !(op->note = strndup(req->note, req->note_len)))) {
        free(op);
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL);
        return;
    }
    op->r = r;
    op->cb = cb;
    op->ctx = ctx;
    op->roles = req->roles;
    op->to_queue = !req->to;
    snprintf(op->room, sizeof op->room, "%s", req->room_id);
    snprintf(op->user, sizeof op->user, "%s", req->user);
    snprintf(op->to, sizeof op->to, "%s", req->to ? req->to : "");
    rooms_look_up(r, op->room, NULL, looked_up, op);
}
