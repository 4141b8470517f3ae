#include "rooms/reactions.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plugins/storage_port.h"
#include "rooms/reaction_emoji.h"
#include "rooms/room_rules.h"

/* ------------------------------------------------------------ the rules */

const char *reaction_refusal(const struct chatd_room *room, const char *user, bool *room_state)
{
    *room_state = false;
    if (room_read_only(room)) {
        *room_state = true;
        return "The room is read-only: it takes no reactions.";
    }
    if (room->kind == CHATD_ROOM_SUPPORT && !(room->owner && strcmp(room->owner, user) == 0) &&
        !(room->agent && strcmp(room->agent, user) == 0))
        return "In a support room its customer and its agent react.";
    return NULL;
}

/* ------------------------------------------------------------- a change */

struct react_op {
    struct rooms *r;
    reaction_answer_cb cb;
    void *ctx;
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
    char emoji[CHATD_REACTION_EMOJI_MAX + 1];
    char *trace;
    uint64_t seq;
    bool add;
};

static void op_answer(struct react_op *op, enum room_status st, const char *why,
                      const struct chatd_reaction_count *counts, size_t n)
{
    op->cb(op->ctx, &(struct room_answer){st, why}, counts, n);
    free(op->trace);
    free(op);
}

static void changed_cb(void *ctx, chatd_status st, const struct chatd_reaction_count *counts, size_t n)
{
    struct react_op *op = ctx;
    switch (st) {
    case CHATD_OK:
        op->r->events.reaction(op->r->events.ctx, op->room, op->seq, op->emoji, op->user, op->add, counts, n);
        log_msg(CHATD_LOG_DEBUG, "rooms", 0, "room %s: message %llu reaction %s by %s, trace %s", op->room,
                (unsigned long long)op->seq, op->add ? "added" : "removed", op->user, op->trace ? op->trace : "-");
        op_answer(op, ROOM_OK, NULL, counts, n);
        return;
    case CHATD_ERR_EXISTS: /* held already, or not held: nothing changed, nothing to tell */
        op_answer(op, ROOM_OK, NULL, counts, n);
        return;
    case CHATD_ERR_CONFLICT:
        op_answer(op, ROOM_CONFLICT, "The message is deleted.", NULL, 0);
        return;
    case CHATD_ERR_LIMIT:
        op_answer(op, ROOM_LIMIT, "A message holds at most 20 different reactions.", counts, n);
        return;
    case CHATD_ERR_UNSUPPORTED:
        op_answer(op, ROOM_NOT_SUPPORTED, "The storage plugin keeps no reactions.", NULL, 0);
        return;
    default: {
        struct room_answer a = room_answer_of(st, "no such message");
        op_answer(op, a.status, a.why, NULL, 0);
    }
    }
}

static void room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct react_op *op = ctx;
    if (a->status != ROOM_OK) {
        op_answer(op, a->status, a->why, NULL, 0);
        return;
    }
    if (!room_is_member(room, op->user)) {
        op_answer(op, ROOM_NOT_FOUND, "no such room", NULL, 0);
        return;
    }
    bool room_state;
    const char *why = reaction_refusal(room, op->user, &room_state);
    if (why) {
        op_answer(op, room_state ? ROOM_CONFLICT : ROOM_FORBIDDEN, why, NULL, 0);
        return;
    }
    struct chatd_reaction_change rc = {.room_id = op->room, .seq = op->seq, .user = op->user, .emoji = op->emoji,
                                       .add = op->add, .max_distinct = REACTIONS_PER_MESSAGE};
    void *state;
    storage_ops(op->r->storage, &state)->reaction_change(state, &rc, changed_cb, op);
}

void reaction_change(struct rooms *r, const struct reaction_request *req, reaction_answer_cb cb, void *ctx)
{
    if (!req->seq) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, "A message's seq is a number from 1."}, NULL, 0);
        return;
    }
    const char *why = reaction_emoji_refusal(req->emoji, req->emoji_len);
    if (why) {
        cb(ctx, &(struct room_answer){ROOM_BAD_REQUEST, why}, NULL, 0);
        return;
    }
    if (!storage_has_reactions(r->storage)) {
        cb(ctx, &(struct room_answer){ROOM_NOT_SUPPORTED, "The storage plugin keeps no reactions."}, NULL, 0);
        return;
    }
    struct react_op *op = calloc(1, sizeof *op);
    if (!op || (req->trace && !(op->trace = strdup(req->trace)))) {
        free(op);
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0);
        return;
    }
    *op = (struct react_op){.r = r, .cb = cb, .ctx = ctx, .seq = req->seq, .add = req->add, .trace = op->trace};
    snprintf(op->room, sizeof op->room, "%s", req->room_id);
    snprintf(op->user, sizeof op->user, "%s", req->user);
    memcpy(op->emoji, req->emoji, req->emoji_len);
    op->emoji[req->emoji_len] = '\0';
    rooms_look_up(r, op->room, NULL, room_cb, op);
}

/* ---------------------------------------------------------- a page's counts */

struct page_op {
    reaction_page_cb cb;
    void *ctx;
    struct chatd_message *msgs; /* and their strings, in one block */
    size_t n;
};

static size_t str_room(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

static const char *str_put(char **at, const char *s, size_t len)
{
    if (!s)
        return NULL;
    char *d = memcpy(*at, s, len);
    *at += len;
    return d;
}

/* msgs[0..n) and everything they point to, in one allocation. */
static struct chatd_message *page_copy(const struct chatd_message *msgs, size_t n)
{
    size_t bytes = n * sizeof *msgs;
    for (size_t i = 0; i < n; i++) {
        const struct chatd_message *m = &msgs[i];
        bytes += str_room(m->room) + str_room(m->id) + str_room(m->sender) + str_room(m->client_id) +
                 str_room(m->content_type) + (m->body ? m->body_len + 1 : 0);
    }
    struct chatd_message *out = malloc(bytes ? bytes : 1);
    if (!out)
        return NULL;
    char *at = (char *)(out + n);
    for (size_t i = 0; i < n; i++) {
        const struct chatd_message *m = &msgs[i];
        out[i] = *m;
        out[i].room = str_put(&at, m->room, str_room(m->room));
        out[i].id = str_put(&at, m->id, str_room(m->id));
        out[i].sender = str_put(&at, m->sender, str_room(m->sender));
        out[i].client_id = str_put(&at, m->client_id, str_room(m->client_id));
        out[i].content_type = str_put(&at, m->content_type, str_room(m->content_type));
        if (m->body) {
            char *b = (char *)str_put(&at, m->body, m->body_len);
            *at++ = '\0';
            out[i].body = b;
        }
    }
    return out;
}

static void page_counts_cb(void *ctx, chatd_status st, const struct chatd_reaction_count *counts, size_t n)
{
    struct page_op *op = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    if (st == CHATD_OK) {
        struct reaction_page rx = {.kept = true, .counts = counts, .n = n};
        op->cb(op->ctx, &a, op->msgs, op->n, &rx);
    } else {
        op->cb(op->ctx, &a, NULL, 0, &(struct reaction_page){0});
    }
    free(op->msgs);
    free(op);
}

void reactions_of_page(struct rooms *r, const char *room_id, const char *user, const struct chatd_message *msgs,
                       size_t n, reaction_page_cb cb, void *ctx)
{
    static const struct room_answer ok = {ROOM_OK, NULL};
    bool kept = storage_has_reactions(r->storage);
    /* a page whose messages all had none when read needs no look-up */
    size_t unknown = 0;
    for (size_t i = 0; i < n; i++)
        unknown += msgs[i].reactions != CHATD_REACTIONS_NONE;
    if (!kept || !unknown) {
        cb(ctx, &ok, msgs, n, &(struct reaction_page){.kept = kept});
        return;
    }
    struct page_op *op = calloc(1, sizeof *op);
    uint64_t *seqs = malloc(unknown * sizeof *seqs);
    if (!op || !seqs || !(op->msgs = page_copy(msgs, n))) {
        free(op);
        free(seqs);
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0, &(struct reaction_page){0});
        return;
    }
    op->cb = cb;
    op->ctx = ctx;
    op->n = n;
    /* only the messages that may have some */
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (msgs[i].reactions != CHATD_REACTIONS_NONE)
            seqs[k++] = msgs[i].seq;
    void *state;
    storage_ops(r->storage, &state)->reaction_list(state, room_id, seqs, k, user && *user ? user : NULL,
                                                   page_counts_cb, op);
    free(seqs); /* borrowed for the call */
}

const struct chatd_reaction_count *reaction_page_of(const struct reaction_page *rx, uint64_t seq, size_t *n)
{
    *n = 0;
    if (!rx)
        return NULL;
    size_t i = 0;
    while (i < rx->n && rx->counts[i].seq < seq)
        i++;
    size_t j = i;
    while (j < rx->n && rx->counts[j].seq == seq)
        j++;
    *n = j - i;
    return *n ? &rx->counts[i] : NULL;
}
