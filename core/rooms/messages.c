#include "rooms/messages.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "plugins/storage_port.h"
#include "rooms/message_body.h"
#include "rooms/notices.h"
#include "rooms/reopen.h"
#include "rooms/first_response.h"
#include "rooms/room_rules.h"

struct message_send {
    struct rooms *r;
    done_answer_cb done_cb;
    message_answer_cb stored_cb;
    void *ctx;
    char room[ROOM_ID_MAX];
    char *sender, *body, *content_type, *client_id, *trace;
    size_t body_len;
    uint64_t origin;
    chatd_message_kind message_kind;
    uint64_t reply_to;
    /* The room as admitted: its kind and members, for the notices. */
    chatd_room_kind kind;
    char **members;
    size_t nmembers;
    bool reopen_tried;
    /* The stored message. */
    uint64_t seq;
    int64_t ts_ms;
    char *message_id;
};

static bool dup_opt(char **out, const char *s)
{
    return !s || (*out = strdup(s));
}

enum room_status message_send_new(struct rooms *r, const struct message_draft *d, struct message_send **out,
                                  char *why, size_t whylen)
{
    *out = NULL;
    if (r->bodies->check(d->content_type, d->body, d->body_len, why, whylen) != 0)
        return ROOM_BAD_REQUEST;
    struct message_send *ms = calloc(1, sizeof *ms);
    if (!ms || !(ms->body = malloc(d->body_len + 1)) || !(ms->sender = strdup(d->sender)) ||
        !(ms->content_type = strdup(message_content_type(d->content_type, d->body, d->body_len))) ||
        !dup_opt(&ms->client_id, d->client_id) ||
        !dup_opt(&ms->trace, d->trace)) {
        message_send_free(ms);
        snprintf(why, whylen, "out of memory");
        return ROOM_NOMEM;
    }
    ms->r = r;
    snprintf(ms->room, sizeof ms->room, "%s", d->room_id);
    memcpy(ms->body, d->body, d->body_len);
    ms->body[d->body_len] = '\0';
    ms->body_len = d->body_len;
    ms->origin = d->origin;
    ms->message_kind = d->kind;
    ms->reply_to = d->reply_to;
    *out = ms;
    return ROOM_OK;
}

void message_send_free(struct message_send *ms)
{
    if (!ms)
        return;
    for (size_t i = 0; i < ms->nmembers; i++)
        free(ms->members[i]);
    free(ms->members);
    free(ms->sender);
    free(ms->body);
    free(ms->content_type);
    free(ms->client_id);
    free(ms->trace);
    free(ms->message_id);
    free(ms);
}

static void admit_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room);

/* The customer's message reopened the room (or another did first, or they
 * have another room open): admitted into the room as it now is. */
static void reopened_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct message_send *ms = ctx;
    if (a->status == ROOM_OK) {
        admit_cb(ms, a, room);
        return;
    }
    /* CONFLICT: reopened (or completed again) meanwhile: as it is now. */
    if (a->status == ROOM_CONFLICT) {
        rooms_look_up(ms->r, ms->room, NULL, admit_cb, ms);
        return;
    }
    struct room_answer refused = *a;
    if (a->status == ROOM_EXISTS)
        refused = (struct room_answer){ROOM_CONFLICT, "The agent completed this support room; your other support "
                                                      "room is open."};
    ms->done_cb(ms->ctx, &refused);
}

static void admit_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct message_send *ms = ctx;
    /* Into a completed room of theirs, within [support] reopen_window: the
     * customer's message opens it again (once per message). */
    if (a->status == ROOM_OK && !ms->reopen_tried && support_reopenable(ms->r, room, ms->sender)) {
        ms->reopen_tried = true;
        support_reopen(ms->r, room, reopened_cb, ms);
        return;
    }
    struct room_answer refused = *a;
    if (a->status == ROOM_OK && !room_is_member(room, ms->sender))
        refused = (struct room_answer){ROOM_NOT_FOUND, "no such room"};
    else if (a->status == ROOM_OK && room_read_only(room))
        refused = (struct room_answer){ROOM_CONFLICT, room->state == CHATD_ROOM_CLOSED
                                                          ? "The customer closed this support room."
                                                          : "The agent completed this support room."};
    /* Seqs are dense from 1: the room's messages are 1..last_seq. */
    char why[96];
    if (refused.status == ROOM_OK && ms->reply_to > room->last_seq) {
        snprintf(why, sizeof why, "reply-to %llu names no message of this room.", (unsigned long long)ms->reply_to);
        refused = (struct room_answer){ROOM_BAD_REQUEST, why};
    }
    if (refused.status == ROOM_OK) {
        ms->kind = room->kind;
        ms->members = calloc(room->nmembers ? room->nmembers : 1, sizeof *ms->members);
        for (size_t i = 0; ms->members && i < room->nmembers; i++)
            if ((ms->members[ms->nmembers] = strdup(room->members[i])))
                ms->nmembers++;
    }
    ms->done_cb(ms->ctx, &refused);
}

void message_send_admit(struct message_send *ms, done_answer_cb cb, void *ctx)
{
    ms->done_cb = cb;
    ms->ctx = ctx;
    rooms_look_up(ms->r, ms->room, NULL, admit_cb, ms);
}

static void stored_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    struct message_send *ms = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    if (st == CHATD_OK && m && (ms->message_id = strdup(m->id))) {
        ms->seq = m->seq;
        ms->ts_ms = m->ts_ms;
        struct chatd_message stored = {.room = ms->room, .seq = m->seq, .id = ms->message_id, .sender = ms->sender,
                                       .client_id = ms->client_id, .ts_ms = m->ts_ms, .body = ms->body,
                                       .body_len = ms->body_len, .content_type = ms->content_type,
                              .kind = ms->message_kind, .reply_to = ms->reply_to};
        ms->stored_cb(ms->ctx, &a, &stored);
        return;
    }
    /* A retry of a stored client-id: the storage answers with the message
     * stored first, whose seq the sender is told. */
    if (st == CHATD_ERR_EXISTS && m) {
        struct chatd_message first = {.room = ms->room, .seq = m->seq, .sender = ms->sender,
                                      .client_id = ms->client_id, .ts_ms = m->ts_ms};
        ms->stored_cb(ms->ctx, &a, &first);
        return;
    }
    /* Stored, but out of memory for its id: as good as a duplicate (not
     * published; a subscriber catches up with since-seq). */
    if (st == CHATD_OK)
        a = (struct room_answer){ROOM_EXISTS, NULL};
    ms->stored_cb(ms->ctx, &a, NULL);
}

void message_send_append(struct message_send *ms, message_answer_cb cb, void *ctx)
{
    ms->stored_cb = cb;
    ms->ctx = ctx;
    struct chatd_message m = {.room = ms->room, .sender = ms->sender, .client_id = ms->client_id,
                              .ts_ms = clock_wall_ms(), .body = ms->body, .body_len = ms->body_len,
                              .content_type = ms->content_type,
                              .kind = ms->message_kind, .reply_to = ms->reply_to};
    void *state;
    storage_ops(ms->r->storage, &state)->message_append(state, &m, stored_cb, ms);
}

static void sender_marked_cb(void *ctx, chatd_status st)
{
    struct message_send *ms = ctx;
    if (st != CHATD_OK)
        log_warn("read mark of a sender in room %s not stored: %s", ms->room, chatd_strerror(st));
    ms->done_cb(ms->ctx, &(struct room_answer){ROOM_OK, NULL});
}

void message_send_publish(struct message_send *ms, done_answer_cb cb, void *ctx)
{
    struct rooms *r = ms->r;
    ms->done_cb = cb;
    ms->ctx = ctx;
    struct chatd_message m = {.room = ms->room, .seq = ms->seq, .id = ms->message_id, .sender = ms->sender,
                              .client_id = ms->client_id, .ts_ms = ms->ts_ms, .body = ms->body,
                              .body_len = ms->body_len, .content_type = ms->content_type,
                              .kind = ms->message_kind, .reply_to = ms->reply_to};
    r->events.message(r->events.ctx, &m, ms->content_type, ms->trace, ms->origin);
    if (ms->kind == CHATD_ROOM_SUPPORT)
        first_response_message(r->first_response, &m);
    struct chatd_room room = {.id = ms->room, .kind = ms->kind, .members = (const char *const *)ms->members,
                              .nmembers = ms->nmembers};
    notices_for_message(r, &room, &m, ms->content_type);
    /* The answer waits for the sender's read mark too, so that what the
     * sender reads after it (its unread count) includes its own message,
     * whatever connection of the storage answers. */
    void *state;
    storage_ops(r->storage, &state)->read_mark(state, ms->room, ms->sender, ms->seq, sender_marked_cb, ms);
}
