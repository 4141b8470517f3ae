/* The rooms over REST: an /api/rooms request read into a call of the rooms
 * domain (rooms/), its answer written as an HTTP status and JSON.
 * docs/rest-api.md. */
#include "http/rooms_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "http/rest_call.h"
#include "rooms/group_changes.h"
#include "rooms/group_roles.h"
#include "rooms/history.h"
#include "rooms/message_edits.h"
#include "rooms/membership.h"
#include "rooms/rating.h"
#include "rooms/reactions.h"
#include "rooms/read_marks.h"
#include "rooms/room_rules.h"
#include "rooms/rooms.h"
#include "rooms/support.h"
#include "rooms/transcript.h"
#include "rooms/transfer.h"
#include "server.h"
#include "wire/jsonw.h"
#include "wire/query.h"
#include "rooms/first_response.h"
#include "wire/room_json.h"
#include "wire/transcript_render.h"

static bool failed(struct rest_call *c, const struct room_answer *a)
{
    if (a->status == ROOM_OK || a->status == ROOM_EXISTS)
        return false;
    rest_room_error(c, a);
    return true;
}

/* A room as the caller sees it; for agents, a support room whose customer
 * waits for an agent's message (as this instance keeps the wait) adds
 * waiting_since and sla_breached (docs/support-desk.md, "Service levels"). */
static json_t *room_json_for(const struct rest_call *c, const struct chatd_room *room)
{
    json_t *j = room_json(room, c->user);
    int64_t since;
    bool breached;
    if (j && room->kind == CHATD_ROOM_SUPPORT && (c->roles & DESK_READERS) &&
        first_response_of(c->srv->rooms->first_response, room->id, &since, &breached)) {
        json_object_set_new(j, "waiting_since", json_integer(since));
        json_object_set_new(j, "sla_breached", json_boolean(breached));
    }
    return j;
}

static void room_answered(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct rest_call *c = ctx;
    if (!failed(c, a))
        rest_respond(c, 200, room_json_for(c, room));
}

static void created(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct rest_call *c = ctx;
    if (!failed(c, a))
        rest_respond(c, a->status == ROOM_OK ? 201 : 200, room_json(room, c->user));
}

static void create_room(struct rest_call *c)
{
    const char *kind = json_string_value(json_object_get(c->body, "kind"));
    if (kind && strcmp(kind, "support") == 0) {
        json_t *topic = json_object_get(c->body, "topic");
        if (topic && !json_is_null(topic) &&
            (!json_is_string(topic) || strlen(json_string_value(topic)) != json_string_length(topic))) {
            rest_error(c, 400, "bad_request", "\"topic\" must be a string");
            return;
        }
        support_open(c->srv->rooms, c->user, json_string_value(topic), created, c);
    } else if (kind && strcmp(kind, "direct") == 0) {
        membership_create_direct(c->srv->rooms, c->user, json_string_value(json_object_get(c->body, "with")),
                                 created, c);
    } else if (kind && strcmp(kind, "group") == 0) {
        json_t *list = json_object_get(c->body, "members");
        /* Not a list: as refused as one too long, after the title. */
        size_t n = !list ? 0 : json_is_array(list) ? json_array_size(list) : GROUP_MEMBERS_MAX + 1;
        const char *members[GROUP_MEMBERS_MAX];
        for (size_t i = 0; n <= GROUP_MEMBERS_MAX && i < n; i++)
            members[i] = json_string_value(json_array_get(list, i));
        membership_create_group(c->srv->rooms, c->user, json_string_value(json_object_get(c->body, "title")),
                                members, n, created, c);
    } else {
        rest_error(c, 400, "bad_request", "\"kind\" must be support, direct or group");
    }
}

static void listed(void *ctx, const struct room_answer *a, const struct chatd_room *rooms, size_t n)
{
    struct rest_call *c = ctx;
    if (failed(c, a))
        return;
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(list, room_json_for(c, &rooms[i]));
    rest_respond(c, 200, json_pack("{s:o}", "rooms", list));
}

static void list_rooms(struct rest_call *c)
{
    char scope[32];
    const char *sc = rest_query(c, "scope", scope, sizeof scope);
    if (!sc || strcmp(sc, "mine") == 0)
        membership_rooms_of(c->srv->rooms, c->user, listed, c);
    else if (strcmp(sc, "unassigned") == 0 || strcmp(sc, "assigned") == 0)
        support_queue(c->srv->rooms, c->user, c->roles, sc[0] == 'a', listed, c);
    else
        rest_error(c, 400, "bad_request", "scope must be mine, unassigned or assigned");
}

static void history_answered(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                             uint64_t next_before, const struct reaction_page *rx)
{
    struct rest_call *c = ctx;
    if (failed(c, a))
        return;
    /* Written as text: the page is the hot answer of the API, and a tree of
     * jansson objects per message cost most of its time. */
    struct jsonw w = {0};
    jsonw_raw(&w, "{\"messages\":[", 13);
    for (size_t i = 0; i < n; i++) {
        if (i)
            jsonw_raw(&w, ",", 1);
        size_t nrx;
        const struct chatd_reaction_count *mine = reaction_page_of(rx, msgs[i].seq, &nrx);
        if (rx->kept)
            room_message_jsonw_reacted(&w, &msgs[i], mine, nrx);
        else
            room_message_jsonw(&w, &msgs[i]);
    }
    jsonw_raw(&w, "]", 1);
    if (next_before) {
        jsonw_key(&w, "next_before", false);
        jsonw_u64(&w, next_before);
    }
    jsonw_raw(&w, "}", 1);
    size_t len = 0;
    char *text = jsonw_take(&w, &len);
    rest_respond_text(c, 200, text, len);
}

static void history(struct rest_call *c, const char *room)
{
    char b[32], a[32], l[32];
    const char *bs = rest_query(c, "before", b, sizeof b), *as = rest_query(c, "after", a, sizeof a),
               *ls = rest_query(c, "limit", l, sizeof l);
    struct history_cursor cur = {.before_set = bs, .after_set = as, .limit_set = ls};
    cur.malformed = (bs && !query_u64(bs, &cur.before)) || (as && !query_u64(as, &cur.after)) ||
                    (ls && !query_u64(ls, &cur.limit));
    history_page(c->srv->rooms, room, c->user, c->roles, &cur, history_answered, c);
}

static void left(void *ctx, const struct room_answer *a, enum room_leaving how)
{
    struct rest_call *c = ctx;
    if (failed(c, a))
        return;
    const char *room = c->params[0];
    if (how == ROOM_LEFT_GROUP)
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", room, "removed", c->user));
    else
        rest_respond(c, 200, json_pack("{s:s, s:s, s:s}", "room", room, "result", "closed", "history",
                                       how == ROOM_CLOSED_KEPT ? "kept" : "deleted"));
}

/* What a group change answers; the request's kind is in the route. */
struct group_call {
    struct rest_call *c;
    chatd_group_change_kind what;
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
};

static void group_answered(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct group_call *g = ctx;
    struct rest_call *c = g->c;
    if (failed(c, a)) {
        free(g);
        return;
    }
    if (g->what == CHATD_GROUP_ADD)
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", g->room, "added", g->user));
    else if (a->status == ROOM_EXISTS) /* already so */
        rest_respond(c, 200, room_json(room, NULL));
    else if (g->what == CHATD_GROUP_REMOVE)
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", g->room, "removed", g->user));
    else if (g->what == CHATD_GROUP_DELETE)
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", g->room, "result", "deleted"));
    else
        rest_respond(c, 200, room_json(room, NULL));
    free(g);
}

static void group(struct rest_call *c, const char *room, const struct group_request *req)
{
    struct group_call *g = calloc(1, sizeof *g);
    if (!g) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    g->c = c;
    g->what = req->what;
    snprintf(g->room, sizeof g->room, "%s", room);
    snprintf(g->user, sizeof g->user, "%s", req->user ? req->user : "");
    group_change(c->srv->rooms, room, c->user, c->roles, req, group_answered, g);
}

static void read_marked(void *ctx, const struct room_answer *a, uint64_t seq)
{
    struct rest_call *c = ctx;
    if (!failed(c, a))
        rest_respond(c, 200, json_pack("{s:s, s:I}", "room", c->params[0], "read_seq", (json_int_t)seq));
}

/* An edit or delete stored: the message as it now is. */
static void changed(void *ctx, const struct room_answer *a, const struct chatd_message *m)
{
    struct rest_call *c = ctx;
    if (!failed(c, a))
        rest_respond(c, 200, room_message_json(m));
}

static void change_message(struct rest_call *c, const char *room, const char *seq_text, chatd_message_edit_kind what)
{
    uint64_t seq;
    if (!seq_text || !query_u64(seq_text, &seq) || !seq) {
        rest_error(c, 404, "not_found", "no such message");
        return;
    }
    struct message_change_request req = {.room_id = room, .user = c->user, .roles = c->roles, .seq = seq,
                                         .what = what};
    if (what == CHATD_MESSAGE_EDIT) {
        json_t *body = json_object_get(c->body, "body");
        json_t *ct = json_object_get(c->body, "content_type");
        if (!json_is_string(body) || (ct && !json_is_string(ct))) {
            rest_error(c, 400, "bad_request", "expected {\"body\": TEXT} and at most a \"content_type\" string");
            return;
        }
        req.body = json_string_value(body);
        req.body_len = json_string_length(body);
        req.content_type = json_string_value(ct);
    }
    message_change(c->srv->rooms, &req, changed, c);
}

/* A reaction stored (or there already): the message's counts, `me` for the caller. */
static void reacted(void *ctx, const struct room_answer *a, const struct chatd_reaction_count *counts, size_t n)
{
    struct rest_call *c = ctx;
    if (a->status == ROOM_LIMIT) {
        rest_error(c, 409, "limit", "%s", a->why);
        return;
    }
    if (failed(c, a))
        return;
    uint64_t seq = 0;
    query_u64(c->params[1], &seq); /* read before the request was made */
    json_t *rx = room_reactions_json(counts, n, true);
    rest_respond(c, 200, rx ? json_pack("{s:s, s:I, s:o}", "room", c->params[0], "seq", (json_int_t)seq, "reactions", rx)
                            : NULL);
}

static void react(struct rest_call *c, const char *room, const char *seq_text, const char *emoji, bool add)
{
    uint64_t seq;
    if (!seq_text || !query_u64(seq_text, &seq) || !seq) {
        rest_error(c, 404, "not_found", "no such message");
        return;
    }
    /* The gateway hands the path over percent-decoded already. */
    struct reaction_request req = {.room_id = room, .user = c->user, .seq = seq, .emoji = emoji ? emoji : "",
                                   .emoji_len = emoji ? strlen(emoji) : 0, .add = add};
    reaction_change(c->srv->rooms, &req, reacted, c);
}

/* {"to": AGENT or null, "note": TEXT (optional)} */
static void transfer(struct rest_call *c, const char *room)
{
    json_t *to = json_object_get(c->body, "to"), *note = json_object_get(c->body, "note");
    if (!json_is_object(c->body) || !to || !(json_is_string(to) || json_is_null(to)) ||
        (note && !json_is_string(note) && !json_is_null(note))) {
        rest_error(c, 400, "bad_request", "expected {\"to\": AGENT or null, \"note\": TEXT}");
        return;
    }
    struct transfer_request req = {.room_id = room, .user = c->user, .roles = c->roles,
                                   .to = json_string_value(to), .note = json_string_value(note),
                                   .note_len = json_is_string(note) ? json_string_length(note) : 0};
    support_transfer(c->srv->rooms, &req, room_answered, c);
}

/* {"rating": 1..5, "comment": TEXT (optional)} */
static void rate(struct rest_call *c, const char *room)
{
    json_t *rating = json_object_get(c->body, "rating"), *comment = json_object_get(c->body, "comment");
    if (!json_is_object(c->body) || !json_is_integer(rating) ||
        (comment && !json_is_string(comment) && !json_is_null(comment))) {
        rest_error(c, 400, "bad_request", "expected {\"rating\": 1 to 5, \"comment\": TEXT}");
        return;
    }
    struct rating_request req = {.room_id = room, .user = c->user, .roles = c->roles,
                                 .rating = json_integer_value(rating), .comment = json_string_value(comment),
                                 .comment_len = json_is_string(comment) ? json_string_length(comment) : 0};
    support_rate(c->srv->rooms, &req, room_answered, c);
}

/* A transcript download: the document grows as the domain reads the
 * pages, and goes out whole at the end (or not at all). */
struct transcript_call {
    struct rest_call *c;
    struct transcript_render *doc;
    bool text;
};

static void transcript_room(void *ctx, const struct chatd_room *room)
{
    struct transcript_call *t = ctx;
    transcript_render_room(t->doc, room);
}

static void transcript_messages(void *ctx, const struct chatd_message *msgs, size_t n)
{
    struct transcript_call *t = ctx;
    transcript_render_messages(t->doc, msgs, n);
}

static void transcript_done(void *ctx, const struct room_answer *a, bool truncated)
{
    struct transcript_call *t = ctx;
    struct rest_call *c = t->c;
    if (!failed(c, a)) {
        size_t len = 0;
        char *body = transcript_render_take(t->doc, truncated, &len);
        char *disposition = NULL;
        if (t->text && body && asprintf(&disposition, "attachment; filename=\"chat-%s.txt\"", c->params[0]) < 0)
            disposition = NULL;
        if (t->text && !disposition) {
            free(body);
            body = NULL;
        }
        rest_respond_typed(c, 200, t->text ? "text/plain; charset=utf-8" : NULL, disposition, body, len);
    }
    transcript_render_free(t->doc);
    free(t);
}

/* ?format=text or json; without it, Accept: text/plain asks for text. */
static void transcript(struct rest_call *c, const char *room)
{
    char fmt[16];
    const char *f = rest_query(c, "format", fmt, sizeof fmt);
    if (f && strcmp(f, "text") != 0 && strcmp(f, "json") != 0) {
        rest_error(c, 400, "bad_request", "format must be json or text");
        return;
    }
    const char *accept = c->req->accept;
    bool text = f ? strcmp(f, "text") == 0 : accept && strstr(accept, "text/plain") && !strstr(accept, "application/json");
    struct transcript_call *t = calloc(1, sizeof *t);
    if (!t || !(t->doc = transcript_render_new(text))) {
        free(t);
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    t->c = c;
    t->text = text;
    struct transcript_reader reader = {.ctx = t, .room = transcript_room, .messages = transcript_messages,
                                       .done = transcript_done};
    transcript_read(c->srv->rooms, room, c->user, c->roles, &reader);
}

void rooms_rest(struct rest_call *c, enum rooms_request what, const char *room, const char *member,
                const char *item)
{
    struct rooms *rooms = c->srv->rooms;
    if (what == ROOMS_CREATE) {
        if (!json_is_object(c->body)) {
            rest_error(c, 400, "bad_request", "expected a JSON object");
            return;
        }
        create_room(c);
        return;
    }
    if (what == ROOMS_LIST) {
        list_rooms(c);
        return;
    }
    if (!room || !room_valid_id(room, strlen(room))) {
        rest_error(c, 404, "not_found", "no such room");
        return;
    }
    if (member && strlen(member) > USER_NAME_MAX) {
        rest_error(c, 400, "bad_request", "a user name is at most %d bytes", USER_NAME_MAX);
        return;
    }
    char scope[16];
    struct group_request req = {.user = member};
    switch (what) {
    case ROOM_GET:
        membership_show(rooms, room, c->user, c->roles, room_answered, c);
        return;
    case ROOM_HISTORY:
        history(c, room);
        return;
    case ROOM_CLAIM:
        support_claim(rooms, room, c->user, c->roles, room_answered, c);
        return;
    case ROOM_COMPLETE:
        support_complete(rooms, room, c->user, c->roles, room_answered, c);
        return;
    case ROOM_TRANSFER:
        transfer(c, room);
        return;
    case ROOM_TRANSCRIPT:
        transcript(c, room);
        return;
    case ROOM_RATE:
        rate(c, room);
        return;
    case ROOM_DELETE:
        /* A support room's customer closes it, a group member leaves; with
         * ?for=everyone an owner or admin deletes the whole group. */
        if (!rest_query(c, "for", scope, sizeof scope)) {
            membership_leave(rooms, room, c->user, c->roles, left, c);
        } else if (strcmp(scope, "everyone") == 0) {
            req.what = CHATD_GROUP_DELETE;
            group(c, room, &req);
        } else {
            rest_error(c, 400, "bad_request", "for=everyone deletes the group; without it a member leaves");
        }
        return;
    case ROOM_RENAME: {
        const char *t = json_string_value(json_object_get(c->body, "title"));
        if (!t || !*t || strlen(t) > GROUP_TITLE_MAX) {
            rest_error(c, 400, "bad_request", "expected {\"title\": T} with a title of 1 to %d bytes",
                       GROUP_TITLE_MAX);
            return;
        }
        req.what = CHATD_GROUP_RENAME;
        req.title = t;
        group(c, room, &req);
        return;
    }
    case ROOM_READ: {
        json_t *s = json_object_get(c->body, "seq");
        if (!json_is_integer(s) || json_integer_value(s) < 0) {
            rest_error(c, 400, "bad_request", "expected {\"seq\": N}");
            return;
        }
        read_mark_set(rooms, room, c->user, (uint64_t)json_integer_value(s), read_marked, c);
        return;
    }
    case ROOM_MEMBER_ADD: {
        const char *u = json_string_value(json_object_get(c->body, "user"));
        if (!u || !*u || strlen(u) > USER_NAME_MAX) {
            rest_error(c, 400, "bad_request", "expected {\"user\": NAME}");
            return;
        }
        req.what = CHATD_GROUP_ADD;
        req.user = u;
        group(c, room, &req);
        return;
    }
    case ROOM_MEMBER_REMOVE:
        req.what = CHATD_GROUP_REMOVE;
        group(c, room, &req);
        return;
    case ROOM_MEMBER_ROLE:
        if (!group_role_parse(json_string_value(json_object_get(c->body, "role")), &req.role)) {
            rest_error(c, 400, "bad_request", "expected {\"role\": \"owner\", \"admin\" or \"member\"}");
            return;
        }
        req.what = CHATD_GROUP_ROLE;
        group(c, room, &req);
        return;
    case ROOM_MESSAGE_EDIT:
        if (!json_is_object(c->body)) {
            rest_error(c, 400, "bad_request", "expected a JSON object");
            return;
        }
        change_message(c, room, member, CHATD_MESSAGE_EDIT);
        return;
    case ROOM_MESSAGE_DELETE:
        change_message(c, room, member, CHATD_MESSAGE_DELETE);
        return;
    case ROOM_REACTION_ADD:
    case ROOM_REACTION_REMOVE:
        react(c, room, member, item, what == ROOM_REACTION_ADD);
        return;
    case ROOMS_LIST:
    case ROOMS_CREATE:
        break;
    }
    rest_error(c, 404, "not_found", "no such endpoint");
}
