/* The rooms over REST: /api/rooms... requests checked against the rules,
 * carried out by the storage, answered in JSON, their events published.
 * docs/rest-api.md. */
#include "http/rooms_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "clock.h"
#include "stomp/destinations.h"
#include "rooms/group_roles.h"
#include "wire/jsonw.h"
#include "log.h"
#include "wire/query.h"
#include "stomp/room_events.h"
#include "wire/room_json.h"
#include "rooms/room_rules.h"
#include "http/rest_call.h"
#include "stomp/router.h"
#include "server.h"
#include "plugins/storage_port.h"

#define PAGE_DEFAULT 20
#define PAGE_MAX 100
#define TITLE_MAX 200

struct rest_op {
    struct rest_call *c;
    char room[ROOM_ID_MAX];
    char member[USER_NAME_MAX + 1];
    uint64_t seq;
    int action;
    /* group changes (group_change_start) */
    struct chatd_group_change change;
    char title[TITLE_MAX + 1];
    char owner_before[USER_NAME_MAX + 1]; /* the owner the change was checked against */
};

static struct rest_op *rest_op_new(struct rest_call *c, const char *room)
{
    struct rest_op *op = calloc(1, sizeof *op);
    if (!op) {
        rest_error(c, 500, "internal", "out of memory");
        return NULL;
    }
    op->c = c;
    if (room)
        snprintf(op->room, sizeof op->room, "%s", room);
    return op;
}

static void storage_error(struct rest_call *c, chatd_status st)
{
    rest_storage_error(c, st, "no such room");
}

static void created_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    free(op);
    if ((st != CHATD_OK && st != CHATD_ERR_EXISTS) || !answer) {
        storage_error(c, st);
        return;
    }
    struct chatd_room view = storage_room(c->srv->storage, answer, 0);
    const struct chatd_room *room = &view;
    if (st == CHATD_OK && room->kind == CHATD_ROOM_SUPPORT)
        room_queue_event(c->srv, "opened", room);
    if (st == CHATD_OK)
        for (size_t i = 0; i < room->nmembers; i++)
            if (strcmp(room->members[i], c->user) != 0)
                room_notify_user(c->srv, room->members[i], "room-added", room->id, room_json(room, NULL));
    rest_respond(c, st == CHATD_OK ? 201 : 200, room_json(room, c->user));
}

static void create_room(struct rest_call *c)
{
    const char *kind = json_string_value(json_object_get(c->body, "kind"));
    char id[40];
    room_new_id(id);
    const char *members[258];
    size_t n = 0;
    members[n++] = c->user;
    struct chatd_room room = {.id = id, .owner = c->user, .created_ms = clock_wall_ms(), .state = CHATD_ROOM_OPEN};
    char key[600];
    const char *unique = NULL;
    if (kind && strcmp(kind, "support") == 0) {
        room.kind = CHATD_ROOM_SUPPORT;
        snprintf(key, sizeof key, "support:%s", c->user);
        unique = key;
    } else if (kind && strcmp(kind, "direct") == 0) {
        const char *with = json_string_value(json_object_get(c->body, "with"));
        if (!with || !*with || strlen(with) > 255 || strcmp(with, c->user) == 0) {
            rest_error(c, 400, "bad_request", "\"with\" must name another user");
            return;
        }
        room.kind = CHATD_ROOM_DIRECT;
        members[n++] = with;
        /* One room per pair, whoever asks first: the key orders the pair. */
        const char *a = strcmp(c->user, with) < 0 ? c->user : with, *b = a == c->user ? with : c->user;
        snprintf(key, sizeof key, "direct:%zu:%s|%s", strlen(a), a, b);
        unique = key;
    } else if (kind && strcmp(kind, "group") == 0) {
        const char *title = json_string_value(json_object_get(c->body, "title"));
        json_t *list = json_object_get(c->body, "members");
        if (!title || !*title || strlen(title) > 200) {
            rest_error(c, 400, "bad_request", "a group needs a \"title\" (1 to 200 bytes)");
            return;
        }
        if (list && (!json_is_array(list) || json_array_size(list) > 256)) {
            rest_error(c, 400, "bad_request", "\"members\" must be an array of at most 256 user names");
            return;
        }
        room.kind = CHATD_ROOM_GROUP;
        room.title = title;
        for (size_t i = 0; list && i < json_array_size(list); i++) {
            const char *m = json_string_value(json_array_get(list, i));
            if (!m || !*m || strlen(m) > 255) {
                rest_error(c, 400, "bad_request", "\"members\" must be an array of user names");
                return;
            }
            bool dup = false;
            for (size_t k = 0; k < n; k++)
                dup |= strcmp(members[k], m) == 0;
            if (!dup)
                members[n++] = m;
        }
    } else {
        rest_error(c, 400, "bad_request", "\"kind\" must be support, direct or group");
        return;
    }
    room.members = members;
    room.nmembers = n;
    struct rest_op *op = rest_op_new(c, id);
    if (!op)
        return;
    void *state;
    storage_ops(c->srv->storage, &state)->room_create(state, &room, unique, created_cb, op);
}

static void list_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    free(op);
    if (st != CHATD_OK) {
        storage_error(c, st);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; i < n; i++) {
        struct chatd_room view = storage_room(c->srv->storage, rooms, i);
        json_array_append_new(list, room_json(&view, c->user));
    }
    rest_respond(c, 200, json_pack("{s:o}", "rooms", list));
}

static void list_rooms(struct rest_call *c)
{
    char scope[32];
    const char *sc = rest_query(c, "scope", scope, sizeof scope);
    struct chatd_room_filter f = {.for_user = c->user, .limit = 500};
    if (!sc || strcmp(sc, "mine") == 0) {
        f.member = c->user;
    } else if (strcmp(sc, "unassigned") == 0 || strcmp(sc, "assigned") == 0) {
        if (!(c->roles & CHATD_ROLE_AGENT)) {
            rest_error(c, 403, "forbidden", "only agents see the support queue");
            return;
        }
        f.kind = CHATD_ROOM_SUPPORT;
        f.state = sc[0] == 'u' ? CHATD_ROOM_OPEN : CHATD_ROOM_ASSIGNED;
        if (sc[0] == 'a')
            f.agent = c->user;
    } else {
        rest_error(c, 400, "bad_request", "scope must be mine, unassigned or assigned");
        return;
    }
    struct rest_op *op = rest_op_new(c, NULL);
    if (!op)
        return;
    void *state;
    storage_ops(c->srv->storage, &state)->room_list(state, &f, list_cb, op);
}

enum room_action {
    ACT_GET = 1, ACT_CLAIM, ACT_COMPLETE, ACT_DELETE, ACT_READ, ACT_HISTORY, ACT_MEMBER_ADD, ACT_MEMBER_REMOVE,
    ACT_ROLE, ACT_RENAME, ACT_GROUP_DELETE,
};

static void claim_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    int action = op->action;
    free(op);
    if (st == CHATD_ERR_CONFLICT) {
        rest_error(c, 409, "conflict", room && room->state == CHATD_ROOM_CLOSED ? "the room is closed"
                                       : action == ACT_CLAIM                   ? "the room is already assigned"
                                                                               : "the room is not assigned to you");
        return;
    }
    if (st != CHATD_OK || !room) {
        storage_error(c, st);
        return;
    }
    if (action == ACT_CLAIM) {
        room_event(c->srv, room->id, "assigned", json_pack("{s:s, s:s}", "room", room->id, "agent", room->agent));
        room_queue_event(c->srv, "claimed", room);
        room_notify_user(c->srv, room->owner, "assigned", room->id, room_json(room, NULL));
    } else {
        room_event(c->srv, room->id, "completed", json_pack("{s:s, s:s}", "room", room->id, "agent", room->agent));
    }
    rest_respond(c, 200, room_json(room, c->user));
}

static void done_cb(void *ctx, chatd_status st)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    if (st != CHATD_OK) {
        free(op);
        storage_error(c, st);
        return;
    }
    struct server *srv = c->srv;
    switch (op->action) {
    case ACT_DELETE:
        room_event(srv, op->room, "closed", json_pack("{s:s, s:s}", "room", op->room, "by", c->user));
        rest_respond(c, 200, json_pack("{s:s, s:s, s:s}", "room", op->room, "result", "closed", "history", "deleted"));
        break;
    case ACT_READ:
        room_event(srv, op->room, "read", json_pack("{s:s, s:s, s:I}", "room", op->room, "user", c->user,
                                                            "seq", (json_int_t)op->seq));
        rest_respond(c, 200, json_pack("{s:s, s:I}", "room", op->room, "read_seq", (json_int_t)op->seq));
        break;
    default:
        rest_respond(c, 200, NULL);
    }
    free(op);
}

static void history_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    free(op);
    if (st != CHATD_OK) {
        storage_error(c, st);
        return;
    }
    /* Written as text: the page is the hot answer of the API, and a tree of
     * jansson objects per message cost most of its time. */
    struct jsonw w = {0};
    jsonw_raw(&w, "{\"messages\":[", 13);
    for (size_t i = 0; i < n; i++) {
        if (i)
            jsonw_raw(&w, ",", 1);
        room_message_jsonw(&w, &msgs[i]);
    }
    jsonw_raw(&w, "]", 1);
    char buf[32];
    /* A page full in "before" mode may have older messages behind it. */
    if (!rest_query(c, "after", buf, sizeof buf) && n && msgs[n - 1].seq > 1) {
        jsonw_key(&w, "next_before", false);
        jsonw_u64(&w, msgs[n - 1].seq);
    }
    jsonw_raw(&w, "}", 1);
    size_t len = 0;
    char *text = jsonw_take(&w, &len);
    rest_respond_text(c, 200, text, len);
}

/* The customer closed the support room: a read-only transcript now. */
static void closed_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    free(op);
    if (st == CHATD_ERR_CONFLICT) {
        rest_error(c, 409, "conflict", "the room is closed already");
        return;
    }
    if (st != CHATD_OK || !room) {
        storage_error(c, st);
        return;
    }
    struct server *srv = c->srv;
    room_event(srv, room->id, "closed", json_pack("{s:s, s:s}", "room", room->id, "by", c->user));
    if (room->agent)
        room_notify_user(srv, room->agent, "closed", room->id, room_json(room, NULL));
    else
        room_queue_event(srv, "closed", room); /* it leaves the unassigned queue */
    rest_respond(c, 200, json_pack("{s:s, s:s, s:s}", "room", room->id, "result", "closed", "history", "kept"));
}

/* The events of a group change that took effect (after: the room as the
 * storage left it, or NULL when the storage keeps no roles), then the
 * answer. */
static void group_changed(struct rest_op *op, const struct chatd_room *after)
{
    struct rest_call *c = op->c;
    struct server *srv = c->srv;
    const struct chatd_group_change *ch = &op->change;
    switch (ch->what) {
    case CHATD_GROUP_ADD:
        room_event(srv, op->room, "member-joined",
                           json_pack("{s:s, s:s, s:s}", "room", op->room, "user", ch->user, "by", c->user));
        room_notify_user(srv, ch->user, "room-added", op->room,
                    after ? room_json(after, NULL) : json_pack("{s:s}", "room", op->room));
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", op->room, "added", ch->user));
        break;
    case CHATD_GROUP_REMOVE:
        /* `by` only when someone else removed them */
        room_event_ending(srv, op->room, "member-left",
                                  json_pack("{s:s, s:s, s:s*}", "room", op->room, "user", ch->user, "by",
                                            strcmp(c->user, ch->user) != 0 ? c->user : NULL),
                                  ch->user);
        /* The owner left: ownership passed on (SDK 1.2 storage). */
        if (after && after->owner && strcmp(op->owner_before, ch->user) == 0 && strcmp(after->owner, ch->user) != 0)
            room_event(srv, op->room, "role-changed",
                               json_pack("{s:s, s:s, s:s, s:s}", "room", op->room, "user", after->owner, "role",
                                         "owner", "by", c->user));
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", op->room, "removed", ch->user));
        break;
    case CHATD_GROUP_ROLE:
        room_event(srv, op->room, "role-changed",
                           json_pack("{s:s, s:s, s:s, s:s}", "room", op->room, "user", ch->user, "role",
                                     group_role_name(ch->role), "by", c->user));
        if (ch->role == CHATD_MEMBER_OWNER) /* the previous owner is an admin now */
            room_event(srv, op->room, "role-changed",
                               json_pack("{s:s, s:s, s:s, s:s}", "room", op->room, "user", c->user, "role", "admin",
                                         "by", c->user));
        rest_respond(c, 200, room_json(after, NULL));
        break;
    case CHATD_GROUP_RENAME:
        room_event(srv, op->room, "renamed",
                           json_pack("{s:s, s:s, s:s}", "room", op->room, "title", ch->title, "by", c->user));
        rest_respond(c, 200, room_json(after, NULL));
        break;
    case CHATD_GROUP_DELETE:
        room_event_deleted(srv, op->room, json_pack("{s:s, s:s}", "room", op->room, "by", c->user));
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", op->room, "result", "deleted"));
        break;
    }
}

/* A refused group change: the status for the client, with the rule. */
static void group_refused(struct rest_call *c, enum group_verdict v, const char *why, const char *user)
{
    switch (v) {
    case GROUP_FORBIDDEN:
        rest_error(c, 403, "forbidden", "%s", why);
        break;
    case GROUP_NOT_MEMBER:
        rest_error(c, 404, "not_found", "%s is %s", user ? user : "that user", why);
        break;
    case GROUP_OWNER_ROLE:
        rest_error(c, 409, "conflict", "%s", why);
        break;
    default:
        rest_error(c, 409, "conflict", "the group changed meanwhile; try again");
    }
}

/* The storage decided (SDK 1.2 group_change). */
static void group_change_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    struct chatd_room after = {0};
    if (answer)
        after = storage_room(c->srv->storage, answer, 0);
    if (st == CHATD_OK && answer) {
        group_changed(op, &after);
    } else if (st == CHATD_ERR_EXISTS && answer) {
        /* already so: nothing to announce */
        if (op->change.what == CHATD_GROUP_ADD)
            rest_respond(c, 200, json_pack("{s:s, s:s}", "room", op->room, "added", op->change.user));
        else
            rest_respond(c, 200, room_json(&after, NULL));
    } else if ((st == CHATD_ERR_DENIED || st == CHATD_ERR_CONFLICT) && answer) {
        /* Someone changed the group since it was checked: say which rule
         * holds now. */
        const char *why;
        struct chatd_group_change again = op->change;
        enum group_verdict v = group_check(&after, c->user, &again, &why);
        group_refused(c, v, why, op->change.user);
    } else if (st == CHATD_ERR_NOT_FOUND || st == CHATD_ERR_INVALID) {
        rest_error(c, 404, "not_found", "no such room");
    } else {
        storage_error(c, st);
    }
    free(op);
}

/* Without group_change (a storage plugin built for SDK 1.1): membership
 * and deletion through the 1.0 operations, decided on the room as read. */
static void group_done_cb(void *ctx, chatd_status st)
{
    struct rest_op *op = ctx;
    if (st == CHATD_OK)
        group_changed(op, NULL);
    else
        storage_error(op->c, st);
    free(op);
}

/* A caller who is a member of the group `room` asks for the change that
 * op->action and its arguments name: check the rule, then let the storage
 * decide (docs/rest-api.md, "Group roles"). Consumes op. */
static void group_change_start(struct rest_op *op, const struct chatd_room *room)
{
    struct rest_call *c = op->c;
    struct chatd_group_change *ch = &op->change;
    ch->size = sizeof *ch;
    ch->room_id = op->room;
    ch->user = op->member[0] ? op->member : NULL;
    ch->title = op->title;
    switch (op->action) {
    case ACT_MEMBER_ADD: ch->what = CHATD_GROUP_ADD; break;
    case ACT_MEMBER_REMOVE: ch->what = CHATD_GROUP_REMOVE; break;
    case ACT_ROLE: ch->what = CHATD_GROUP_ROLE; break;
    case ACT_RENAME: ch->what = CHATD_GROUP_RENAME; break;
    default: ch->what = CHATD_GROUP_DELETE; break;
    }
    snprintf(op->owner_before, sizeof op->owner_before, "%s", room->owner ? room->owner : "");
    bool stored = storage_has_group_change(c->srv->storage);
    const char *why;
    enum group_verdict v = group_check(room, c->user, ch, &why);
    if (v == GROUP_UNCHANGED) {
        if (ch->what == CHATD_GROUP_ADD)
            rest_respond(c, 200, json_pack("{s:s, s:s}", "room", op->room, "added", ch->user));
        else
            rest_respond(c, 200, room_json(room, NULL));
        free(op);
        return;
    }
    if (v != GROUP_ALLOWED) {
        group_refused(c, v, why, ch->user);
        free(op);
        return;
    }
    void *state;
    const struct chatd_storage_ops *ops = storage_ops(c->srv->storage, &state);
    if (stored) {
        ops->group_change(state, ch, group_change_cb, op);
        return;
    }
    switch (ch->what) {
    case CHATD_GROUP_ADD:
        ops->member_add(state, op->room, ch->user, group_done_cb, op);
        return;
    case CHATD_GROUP_REMOVE:
        ops->member_remove(state, op->room, ch->user, group_done_cb, op);
        return;
    case CHATD_GROUP_DELETE:
        ops->room_delete(state, op->room, group_done_cb, op);
        return;
    default: {
        bool role = ch->what == CHATD_GROUP_ROLE;
        free(op);
        rest_error(c, 501, "not_supported", "%s", role ? "the storage plugin does not store group roles"
                                                       : "the storage plugin cannot rename a group");
    }
    }
}

/* The room is here and the caller may see it: act. */
static void room_action_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    struct chatd_room view = {0};
    if (answer)
        view = storage_room(c->srv->storage, answer, 0);
    const struct chatd_room *room = answer ? &view : NULL;
    /* A claim that lost the race must hear 409, not 404: agents address
     * every support room when claiming. */
    bool claimable = op->action == ACT_CLAIM && room && (c->roles & CHATD_ROLE_AGENT) &&
                     room->kind == CHATD_ROOM_SUPPORT;
    if (st != CHATD_OK || !room || !(claimable || room_can_see(room, c->user, c->roles))) {
        free(op);
        if (st == CHATD_OK || st == CHATD_ERR_NOT_FOUND)
            rest_error(c, 404, "not_found", "no such room");
        else
            storage_error(c, st);
        return;
    }
    void *state;
    const struct chatd_storage_ops *ops = storage_ops(c->srv->storage, &state);
    bool member = room_is_member(room, c->user);
    bool agent = c->roles & CHATD_ROLE_AGENT;
    switch (op->action) {
    case ACT_GET:
        free(op);
        rest_respond(c, 200, room_json(room, c->user));
        return;
    case ACT_HISTORY: {
        char b[32], a[32], l[32];
        uint64_t before = 0, after = 0, limit = PAGE_DEFAULT;
        const char *bs = rest_query(c, "before", b, sizeof b), *as = rest_query(c, "after", a, sizeof a),
                   *ls = rest_query(c, "limit", l, sizeof l);
        if ((bs && (!query_u64(bs, &before) || before == 0)) || (as && !query_u64(as, &after)) ||
            (ls && (!query_u64(ls, &limit) || limit < 1 || limit > PAGE_MAX)) || (bs && as)) {
            free(op);
            rest_error(c, 400, "bad_request", "before (>= 1) or after, and limit 1..%d", PAGE_MAX);
            return;
        }
        if (!bs && !as)
            before = UINT64_MAX; /* newest first from the top */
        ops->message_list(state, op->room, before, after, (size_t)limit, history_cb, op);
        return;
    }
    case ACT_CLAIM:
        if (!agent || room->kind != CHATD_ROOM_SUPPORT) {
            free(op);
            rest_error(c, agent ? 400 : 403, agent ? "bad_request" : "forbidden",
                       agent ? "only support rooms are claimed" : "only agents claim rooms");
            return;
        }
        ops->room_claim(state, op->room, c->user, clock_wall_ms(), claim_cb, op);
        return;
    case ACT_COMPLETE:
        if (!agent || room->kind != CHATD_ROOM_SUPPORT) {
            free(op);
            rest_error(c, 403, "forbidden", "only the assigned agent completes a support room");
            return;
        }
        ops->room_complete(state, op->room, c->user, claim_cb, op);
        return;
    case ACT_DELETE:
        if (room->kind == CHATD_ROOM_SUPPORT && strcmp(room->owner, c->user) == 0) {
            /* The transcript stays (room_close); with a storage plugin older
             * than SDK 1.2 the room goes with its history instead. */
            storage_close_fn close_room = storage_room_close(c->srv->storage);
            if (close_room)
                close_room(state, op->room, clock_wall_ms(), closed_cb, op);
            else
                ops->room_delete(state, op->room, done_cb, op);
        } else if (room->kind == CHATD_ROOM_GROUP && member) {
            op->action = ACT_MEMBER_REMOVE; /* leaving */
            snprintf(op->member, sizeof op->member, "%s", c->user);
            group_change_start(op, room);
        } else {
            free(op);
            rest_error(c, 403, "forbidden", "only the customer closes a support room; members leave groups");
        }
        return;
    case ACT_MEMBER_ADD:
    case ACT_MEMBER_REMOVE:
    case ACT_ROLE:
    case ACT_RENAME:
    case ACT_GROUP_DELETE:
        if (room->kind == CHATD_ROOM_GROUP && member) {
            group_change_start(op, room);
            return;
        }
        bool deleting = op->action == ACT_GROUP_DELETE;
        free(op);
        if (deleting && room->kind == CHATD_ROOM_SUPPORT)
            rest_error(c, 400, "bad_request", "for=everyone deletes a group; a support room's customer closes it "
                                              "with a plain DELETE");
        else
            rest_error(c, 403, "forbidden", "%s", room->kind == CHATD_ROOM_DIRECT
                                                      ? "a direct room has exactly its two members: no member, role "
                                                        "or title changes, and it is not deleted"
                                                      : "members, roles and titles belong to group rooms");
        return;
    case ACT_READ:
        if (!member) {
            free(op);
            rest_error(c, 404, "not_found", "no such room");
            return;
        }
        if (op->seq > room->last_seq)
            op->seq = room->last_seq;
        ops->read_mark(state, op->room, c->user, op->seq, done_cb, op);
        return;
    }
    free(op);
    rest_error(c, 500, "internal", "unknown action");
}

/* The group routes (docs/rest-api.md, "Group roles"): PATCH of the room
 * (rename), PUT of a member's role, DELETE of the room ?for=everyone.
 * Sets *action (0: not one of them) and the arguments; false when the
 * request is answered already (bad input). */
void rooms_rest(struct rest_call *c, enum rooms_request what, const char *room, const char *member)
{
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
    int action = 0;
    char user[USER_NAME_MAX + 1] = "", title[TITLE_MAX + 1] = "", scope[16];
    chatd_member_role role = CHATD_MEMBER_NONE;
    uint64_t seq = 0;
    switch (what) {
    case ROOM_GET: action = ACT_GET; break;
    case ROOM_HISTORY: action = ACT_HISTORY; break;
    case ROOM_CLAIM: action = ACT_CLAIM; break;
    case ROOM_COMPLETE: action = ACT_COMPLETE; break;
    case ROOM_DELETE:
        /* A support room's customer closes it, a group member leaves; with
         * ?for=everyone an owner or admin deletes the whole group. */
        if (!rest_query(c, "for", scope, sizeof scope)) {
            action = ACT_DELETE;
        } else if (strcmp(scope, "everyone") == 0) {
            action = ACT_GROUP_DELETE;
        } else {
            rest_error(c, 400, "bad_request", "for=everyone deletes the group; without it a member leaves");
            return;
        }
        break;
    case ROOM_RENAME: {
        const char *t = json_string_value(json_object_get(c->body, "title"));
        if (!t || !*t || strlen(t) > TITLE_MAX) {
            rest_error(c, 400, "bad_request", "expected {\"title\": T} with a title of 1 to %d bytes", TITLE_MAX);
            return;
        }
        snprintf(title, sizeof title, "%s", t);
        action = ACT_RENAME;
        break;
    }
    case ROOM_READ: {
        json_t *s = json_object_get(c->body, "seq");
        if (!json_is_integer(s) || json_integer_value(s) < 0) {
            rest_error(c, 400, "bad_request", "expected {\"seq\": N}");
            return;
        }
        seq = (uint64_t)json_integer_value(s);
        action = ACT_READ;
        break;
    }
    case ROOM_MEMBER_ADD: {
        const char *u = json_string_value(json_object_get(c->body, "user"));
        if (!u || !*u || strlen(u) >= sizeof user) {
            rest_error(c, 400, "bad_request", "expected {\"user\": NAME}");
            return;
        }
        snprintf(user, sizeof user, "%s", u);
        action = ACT_MEMBER_ADD;
        break;
    }
    case ROOM_MEMBER_REMOVE:
        snprintf(user, sizeof user, "%s", member ? member : "");
        action = ACT_MEMBER_REMOVE;
        break;
    case ROOM_MEMBER_ROLE:
        if (!group_role_parse(json_string_value(json_object_get(c->body, "role")), &role)) {
            rest_error(c, 400, "bad_request", "expected {\"role\": \"owner\", \"admin\" or \"member\"}");
            return;
        }
        snprintf(user, sizeof user, "%s", member ? member : "");
        action = ACT_ROLE;
        break;
    case ROOMS_LIST:
    case ROOMS_CREATE:
        break;
    }
    if (!action) {
        rest_error(c, 404, "not_found", "no such endpoint");
        return;
    }
    struct rest_op *op = rest_op_new(c, room);
    if (!op)
        return;
    op->action = action;
    op->seq = seq;
    snprintf(op->member, sizeof op->member, "%s", user);
    op->change.role = role;
    memcpy(op->title, title, sizeof op->title);
    void *state;
    storage_ops(c->srv->storage, &state)->room_get(state, room, c->user, room_action_cb, op);
}
