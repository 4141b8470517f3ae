#include "rooms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <jansson.h>

#include "clock.h"
#include "destinations.h"
#include "group_roles.h"
#include "loader.h"
#include "log.h"
#include "message_body.h"
#include "notify.h"
#include "presence.h"
#include "preview.h"
#include "jsonw.h"
#include "rest.h"
#include "router.h"
#include "send_order.h"
#include "server.h"
#include "session.h"
#include "stomp_frame.h"
#include "storage_port.h"
#include "strmap.h"

#define ROOM_ID_MAX 64
#define PAGE_DEFAULT 20
#define PAGE_MAX 100
#define REPLAY_PAGE 100
#define TITLE_MAX 200

static const struct chatd_storage_ops *storage(struct server *srv, void **state)
{
    *state = srv->storage->state;
    return srv->storage->desc->ops.storage;
}

static const char *kind_name(chatd_room_kind k)
{
    return k == CHATD_ROOM_SUPPORT ? "support" : k == CHATD_ROOM_DIRECT ? "direct" : "group";
}

static const char *state_name(const struct chatd_room *r)
{
    if (r->state == CHATD_ROOM_ASSIGNED)
        return "assigned";
    if (r->state == CHATD_ROOM_COMPLETED)
        return "completed";
    if (r->state == CHATD_ROOM_CLOSED)
        return "closed";
    return r->kind == CHATD_ROOM_SUPPORT ? "unassigned" : "open";
}

/* A completed or closed support room keeps its history and takes no new
 * messages. */
static bool read_only(const struct chatd_room *r)
{
    return r->state == CHATD_ROOM_COMPLETED || r->state == CHATD_ROOM_CLOSED;
}

/* When a CLOSED room was closed. Only a plugin of SDK 1.2 or later makes a
 * room CLOSED (room_close), and its struct has closed_ms: older plugins'
 * structs end before it, so it is never read from them. */
static int64_t closed_ms(const struct chatd_room *r)
{
    return r->state == CHATD_ROOM_CLOSED ? r->closed_ms : 0;
}

static bool is_member(const struct chatd_room *r, const char *user)
{
    for (size_t i = 0; i < r->nmembers; i++)
        if (strcmp(r->members[i], user) == 0)
            return true;
    return false;
}

/* Who may see a room at all: its members, and agents an unassigned support
 * room (the queue). Others get 404, so ids cannot be probed. */
static bool can_see(const struct chatd_room *r, const char *user, uint32_t roles)
{
    return is_member(r, user) ||
           ((roles & CHATD_ROLE_AGENT) && r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_OPEN);
}

/* Room ids are random: 16 bytes of the kernel's randomness, hex. */
static void new_room_id(char out[40])
{
    unsigned char b[12];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    out[0] = 'r';
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", b[i]);
}

static bool valid_room_id(const char *id, size_t len)
{
    if (len == 0 || len >= ROOM_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
            return false;
    return true;
}

/* A message whose sender's data was erased (user_erase): its sender is "". */
static bool erased(const struct chatd_message *m)
{
    return !m->sender || !*m->sender;
}

static json_t *message_json(const struct chatd_message *m)
{
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:I, s:s%}", "id", m->id, "room", m->room, "seq",
                          (json_int_t)m->seq, "sender", m->sender ? m->sender : "", "client_id", m->client_id,
                          "timestamp", (json_int_t)m->ts_ms, "body", m->body ? m->body : "",
                          m->body ? m->body_len : 0);
    if (j && erased(m))
        json_object_set_new(j, "erased", json_true());
    return j;
}

static json_t *room_json(const struct chatd_room *r, const char *for_user)
{
    json_t *members = json_array();
    for (size_t i = 0; i < r->nmembers; i++)
        json_array_append_new(members, json_string(r->members[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o, s:I, s:I}", "id", r->id, "kind",
                          kind_name(r->kind), "state", state_name(r), "title", r->title, "owner", r->owner,
                          "agent", r->agent, "members", members, "created_at", (json_int_t)r->created_ms,
                          "last_seq", (json_int_t)r->last_seq);
    if (!j)
        return NULL;
    if (r->kind == CHATD_ROOM_GROUP) {
        json_t *admins = json_array();
        for (size_t i = 0; i < r->nadmins; i++)
            json_array_append_new(admins, json_string(r->admins[i]));
        json_object_set_new(j, "admins", admins);
    }
    if (r->assigned_ms)
        json_object_set_new(j, "assigned_at", json_integer(r->assigned_ms));
    if (closed_ms(r))
        json_object_set_new(j, "closed_at", json_integer(closed_ms(r)));
    if (r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_OPEN)
        json_object_set_new(j, "waiting_ms", json_integer(clock_wall_ms() - r->created_ms));
    if (for_user) {
        json_object_set_new(j, "read_seq", json_integer((json_int_t)r->read_seq));
        json_object_set_new(j, "unread", json_integer((json_int_t)(r->last_seq > r->read_seq ? r->last_seq - r->read_seq : 0)));
        json_object_set_new(j, "last_message", r->last_message ? message_json(r->last_message) : json_null());
    }
    return j;
}

/* ------------------------------------------------------------- events */

static void room_topic(char *out, size_t len, const char *room)
{
    destination_room_topic(out, len, room);
}

/* An event on a room's topic: `event` and `room` headers, a JSON body.
 * `revoked`: a user whose subscriptions to the room end with this event
 * (they left or were removed), else NULL. */
static void publish_room_event_ending(struct server *srv, const char *room, const char *event, json_t *body,
                                      const char *revoked)
{
    char topic[128];
    room_topic(topic, sizeof topic, room);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    if (!text)
        return;
    struct event_header h[] = {{"event", event}, {"room", room}, {"content-type", "application/json"},
                               {"user", revoked}, {ROUTER_REVOKE, revoked}};
    chatd_status st = router_publish_event(srv->router, topic, h, revoked ? 5 : 3, text, strlen(text));
    if (st != CHATD_OK)
        log_warn("event %s for room %s not published: %s", event, room, chatd_strerror(st));
    free(text);
}

static void publish_room_event(struct server *srv, const char *room, const char *event, json_t *body)
{
    publish_room_event_ending(srv, room, event, body, NULL);
}

static void publish_queue_event(struct server *srv, const char *event, const struct chatd_room *r)
{
    json_t *j = room_json(r, NULL);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (!text)
        return;
    struct event_header h[] = {{"event", event}, {"room", r->id}, {"content-type", "application/json"}};
    router_publish_event(srv->router, DEST_SUPPORT_QUEUE, h, 3, text, strlen(text));
    free(text);
}

/* An in-band notification; body (taken, may be NULL when it could not be
 * built) goes to every session of user on /user/queue/notifications. */
static void notify_user(struct server *srv, const char *user, const char *event, const char *room, json_t *body)
{
    char dest[300];
    destination_notifications_of(dest, sizeof dest, user);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text) {
        notify_failed(srv, user, room, event, "not encoded as JSON");
        return;
    }
    struct event_header h[] = {{"event", event}, {"room", room}, {"content-type", "application/json"}};
    chatd_status st = router_publish_event(srv->router, dest, h, 3, text, strlen(text));
    if (st != CHATD_OK)
        notify_failed(srv, user, room, event, chatd_strerror(st));
    free(text);
}

/* After a message is stored: members with no live subscription to the room
 * hear of it in-band when connected, through notify plugins when not. Both
 * carry one preview of the message's text, made when the first member
 * needs it. */
static void notify_members(struct server *srv, const struct chatd_room *r, const struct chatd_message *m,
                           const char *content_type)
{
    char *text = NULL, *preview = NULL;
    size_t text_len = 0;
    bool made = false;
    for (size_t i = 0; i < r->nmembers; i++) {
        const char *member = r->members[i];
        if (strcmp(member, m->sender) == 0)
            continue;
        if (presence_watching(srv->presence, member, r->id))
            continue;
        if (!made) {
            made = true;
            text = message_body_text(content_type, m->body, m->body_len, &text_len);
            preview = text ? preview_make(text, text_len, srv->settings.notify_preview) : NULL;
        }
        if (!preview) {
            notify_failed(srv, member, r->id, "message", "no preview: out of memory or a body not checked");
            continue;
        }
        if (presence_online(srv->presence, member)) {
            notify_user(srv, member, "message", r->id,
                        json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "event", "message", "room", r->id,
                                  "room_kind", kind_name(r->kind), "seq", (json_int_t)m->seq, "message_id", m->id,
                                  "sender", m->sender, "preview", preview));
        } else {
            notify_offline(srv->notifier, r, m, member, text, text_len, preview);
        }
    }
    free(text);
    free(preview);
}

/* ------------------------------------------------------------ REST ops */

struct rest_op {
    struct rest_call *c;
    char room[ROOM_ID_MAX];
    char member[256];
    uint64_t seq;
    int action;
    /* group changes (group_change_start) */
    struct chatd_group_change change;
    char title[TITLE_MAX + 1];
    char owner_before[256]; /* the owner the change was checked against */
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

static void rest_storage_error(struct rest_call *c, chatd_status st)
{
    if (st == CHATD_ERR_NOT_FOUND)
        rest_error(c, 404, "not_found", "no such room");
    else if (st == CHATD_ERR_LIMIT)
        rest_error(c, 429, "limit", "storage limit reached");
    else
        rest_error(c, 503, "storage_unavailable", "storage: %s", chatd_strerror(st));
}

static void created_cb(void *ctx, chatd_status st, const struct chatd_room *answer)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    free(op);
    if ((st != CHATD_OK && st != CHATD_ERR_EXISTS) || !answer) {
        rest_storage_error(c, st);
        return;
    }
    struct chatd_room view = storage_room(c->srv->storage, answer, 0);
    const struct chatd_room *room = &view;
    if (st == CHATD_OK && room->kind == CHATD_ROOM_SUPPORT)
        publish_queue_event(c->srv, "opened", room);
    if (st == CHATD_OK)
        for (size_t i = 0; i < room->nmembers; i++)
            if (strcmp(room->members[i], c->user) != 0)
                notify_user(c->srv, room->members[i], "room-added", room->id, room_json(room, NULL));
    rest_respond(c, st == CHATD_OK ? 201 : 200, room_json(room, c->user));
}

static void create_room(struct rest_call *c)
{
    const char *kind = json_string_value(json_object_get(c->body, "kind"));
    char id[40];
    new_room_id(id);
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
    storage(c->srv, &state)->room_create(state, &room, unique, created_cb, op);
}

static void list_cb(void *ctx, chatd_status st, const struct chatd_room *rooms, size_t n)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    free(op);
    if (st != CHATD_OK) {
        rest_storage_error(c, st);
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
    storage(c->srv, &state)->room_list(state, &f, list_cb, op);
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
        rest_storage_error(c, st);
        return;
    }
    if (action == ACT_CLAIM) {
        publish_room_event(c->srv, room->id, "assigned", json_pack("{s:s, s:s}", "room", room->id, "agent", room->agent));
        publish_queue_event(c->srv, "claimed", room);
        notify_user(c->srv, room->owner, "assigned", room->id, room_json(room, NULL));
    } else {
        publish_room_event(c->srv, room->id, "completed", json_pack("{s:s, s:s}", "room", room->id, "agent", room->agent));
    }
    rest_respond(c, 200, room_json(room, c->user));
}

static void done_cb(void *ctx, chatd_status st)
{
    struct rest_op *op = ctx;
    struct rest_call *c = op->c;
    if (st != CHATD_OK) {
        free(op);
        rest_storage_error(c, st);
        return;
    }
    struct server *srv = c->srv;
    switch (op->action) {
    case ACT_DELETE:
        publish_room_event(srv, op->room, "closed", json_pack("{s:s, s:s}", "room", op->room, "by", c->user));
        rest_respond(c, 200, json_pack("{s:s, s:s, s:s}", "room", op->room, "result", "closed", "history", "deleted"));
        break;
    case ACT_READ:
        publish_room_event(srv, op->room, "read", json_pack("{s:s, s:s, s:I}", "room", op->room, "user", c->user,
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
        rest_storage_error(c, st);
        return;
    }
    /* Written as text: the page is the hot answer of the API, and a tree of
     * jansson objects per message cost most of its time. The fields are
     * message_json()'s. */
    struct jsonw w = {0};
    jsonw_raw(&w, "{\"messages\":[", 13);
    for (size_t i = 0; i < n; i++) {
        const struct chatd_message *m = &msgs[i];
        jsonw_raw(&w, i ? ",{" : "{", i ? 2 : 1);
        jsonw_key(&w, "id", true);
        jsonw_cstr(&w, m->id);
        jsonw_key(&w, "room", false);
        jsonw_cstr(&w, m->room);
        jsonw_key(&w, "seq", false);
        jsonw_u64(&w, m->seq);
        jsonw_key(&w, "sender", false);
        jsonw_cstr(&w, m->sender ? m->sender : "");
        jsonw_key(&w, "client_id", false);
        jsonw_cstr(&w, m->client_id);
        jsonw_key(&w, "timestamp", false);
        jsonw_i64(&w, m->ts_ms);
        jsonw_key(&w, "body", false);
        jsonw_str(&w, m->body ? m->body : "", m->body ? m->body_len : 0);
        if (erased(m)) {
            jsonw_key(&w, "erased", false);
            jsonw_raw(&w, "true", 4);
        }
        jsonw_raw(&w, "}", 1);
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
        rest_storage_error(c, st);
        return;
    }
    struct server *srv = c->srv;
    publish_room_event(srv, room->id, "closed", json_pack("{s:s, s:s}", "room", room->id, "by", c->user));
    if (room->agent)
        notify_user(srv, room->agent, "closed", room->id, room_json(room, NULL));
    else
        publish_queue_event(srv, "closed", room); /* it leaves the unassigned queue */
    rest_respond(c, 200, json_pack("{s:s, s:s, s:s}", "room", room->id, "result", "closed", "history", "kept"));
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    if (*end || s[0] == '-')
        return false;
    *out = v;
    return true;
}

/* `deleted`, the last event of a room that is gone: every subscription to
 * it ends, on every instance. body is stolen. */
static void publish_room_deleted(struct server *srv, const char *room, json_t *body)
{
    char topic[128];
    room_topic(topic, sizeof topic, room);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct event_header h[] = {{"event", "deleted"}, {"room", room}, {"content-type", "application/json"},
                               {ROUTER_REVOKE_ALL, "true"}};
    chatd_status st = text ? router_publish_event(srv->router, topic, h, 4, text, strlen(text)) : CHATD_ERR_NOMEM;
    if (st != CHATD_OK)
        log_warn("event deleted for room %s not published: %s", room, chatd_strerror(st));
    free(text);
}

void rooms_erased_member_left(struct server *srv, const char *room, const char *user)
{
    publish_room_event_ending(srv, room, "member-left",
                              json_pack("{s:s, s:s, s:b}", "room", room, "user", user, "erased", true), user);
}

void rooms_erased_room_deleted(struct server *srv, const char *room)
{
    publish_room_deleted(srv, room, json_pack("{s:s, s:b}", "room", room, "erased", true));
}

/* ------------------------------------------------------ group changes */

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
        publish_room_event(srv, op->room, "member-joined",
                           json_pack("{s:s, s:s, s:s}", "room", op->room, "user", ch->user, "by", c->user));
        notify_user(srv, ch->user, "room-added", op->room,
                    after ? room_json(after, NULL) : json_pack("{s:s}", "room", op->room));
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", op->room, "added", ch->user));
        break;
    case CHATD_GROUP_REMOVE:
        /* `by` only when someone else removed them */
        publish_room_event_ending(srv, op->room, "member-left",
                                  json_pack("{s:s, s:s, s:s*}", "room", op->room, "user", ch->user, "by",
                                            strcmp(c->user, ch->user) != 0 ? c->user : NULL),
                                  ch->user);
        /* The owner left: ownership passed on (SDK 1.2 storage). */
        if (after && after->owner && strcmp(op->owner_before, ch->user) == 0 && strcmp(after->owner, ch->user) != 0)
            publish_room_event(srv, op->room, "role-changed",
                               json_pack("{s:s, s:s, s:s, s:s}", "room", op->room, "user", after->owner, "role",
                                         "owner", "by", c->user));
        rest_respond(c, 200, json_pack("{s:s, s:s}", "room", op->room, "removed", ch->user));
        break;
    case CHATD_GROUP_ROLE:
        publish_room_event(srv, op->room, "role-changed",
                           json_pack("{s:s, s:s, s:s, s:s}", "room", op->room, "user", ch->user, "role",
                                     group_role_name(ch->role), "by", c->user));
        if (ch->role == CHATD_MEMBER_OWNER) /* the previous owner is an admin now */
            publish_room_event(srv, op->room, "role-changed",
                               json_pack("{s:s, s:s, s:s, s:s}", "room", op->room, "user", c->user, "role", "admin",
                                         "by", c->user));
        rest_respond(c, 200, room_json(after, NULL));
        break;
    case CHATD_GROUP_RENAME:
        publish_room_event(srv, op->room, "renamed",
                           json_pack("{s:s, s:s, s:s}", "room", op->room, "title", ch->title, "by", c->user));
        rest_respond(c, 200, room_json(after, NULL));
        break;
    case CHATD_GROUP_DELETE:
        publish_room_deleted(srv, op->room, json_pack("{s:s, s:s}", "room", op->room, "by", c->user));
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
        rest_storage_error(c, st);
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
        rest_storage_error(op->c, st);
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
    const struct chatd_storage_ops *ops = storage(c->srv, &state);
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
    if (st != CHATD_OK || !room || !(claimable || can_see(room, c->user, c->roles))) {
        free(op);
        if (st == CHATD_OK || st == CHATD_ERR_NOT_FOUND)
            rest_error(c, 404, "not_found", "no such room");
        else
            rest_storage_error(c, st);
        return;
    }
    void *state;
    const struct chatd_storage_ops *ops = storage(c->srv, &state);
    bool member = is_member(room, c->user);
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
        if ((bs && (!parse_u64(bs, &before) || before == 0)) || (as && !parse_u64(as, &after)) ||
            (ls && (!parse_u64(ls, &limit) || limit < 1 || limit > PAGE_MAX)) || (bs && as)) {
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
static bool group_route(struct rest_call *c, const char *sub, const char *method, int *action, char *member,
                        size_t member_len, chatd_member_role *role, char title[TITLE_MAX + 1])
{
    size_t sl = strlen(sub);
    char scope[16];
    if (!*sub && strcmp(method, "PATCH") == 0) {
        const char *t = json_string_value(json_object_get(c->body, "title"));
        if (!t || !*t || strlen(t) > TITLE_MAX) {
            rest_error(c, 400, "bad_request", "expected {\"title\": T} with a title of 1 to %d bytes", TITLE_MAX);
            return false;
        }
        snprintf(title, TITLE_MAX + 1, "%s", t);
        *action = ACT_RENAME;
    } else if (!*sub && strcmp(method, "DELETE") == 0 && rest_query(c, "for", scope, sizeof scope)) {
        if (strcmp(scope, "everyone") != 0) {
            rest_error(c, 400, "bad_request", "for=everyone deletes the group; without it a member leaves");
            return false;
        }
        *action = ACT_GROUP_DELETE;
    } else if (strncmp(sub, "members/", 8) == 0 && sl > 8 + 5 && strcmp(sub + sl - 5, "/role") == 0 &&
               strcmp(method, "PUT") == 0) {
        size_t ul = sl - 8 - 5;
        const char *r = json_string_value(json_object_get(c->body, "role"));
        if (ul >= member_len || !group_role_parse(r, role)) {
            rest_error(c, 400, "bad_request", "expected {\"role\": \"owner\", \"admin\" or \"member\"}");
            return false;
        }
        memcpy(member, sub + 8, ul);
        member[ul] = '\0';
        *action = ACT_ROLE;
    }
    return true;
}

void rooms_rest(struct rest_call *c)
{
    const char *path = c->req->path;
    const char *method = c->req->method;
    if (strncmp(path, "/api/rooms", 10) != 0 || (path[10] && path[10] != '/')) {
        rest_error(c, 404, "not_found", "no such endpoint");
        return;
    }
    const char *rest = path[10] ? path + 11 : "";
    if (!*rest) {
        if (strcmp(method, "POST") == 0) {
            if (!json_is_object(c->body)) {
                rest_error(c, 400, "bad_request", "expected a JSON object");
                return;
            }
            create_room(c);
        } else if (strcmp(method, "GET") == 0) {
            list_rooms(c);
        } else {
            rest_error(c, 405, "method_not_allowed", "use GET or POST on /api/rooms");
        }
        return;
    }
    const char *slash = strchr(rest, '/');
    size_t idlen = slash ? (size_t)(slash - rest) : strlen(rest);
    if (!valid_room_id(rest, idlen)) {
        rest_error(c, 404, "not_found", "no such room");
        return;
    }
    char room[ROOM_ID_MAX];
    memcpy(room, rest, idlen);
    room[idlen] = '\0';
    const char *sub = slash ? slash + 1 : "";
    int action = 0;
    char member[256] = "", title[TITLE_MAX + 1] = "", scope[16];
    chatd_member_role role = CHATD_MEMBER_NONE;
    uint64_t seq = 0;
    if (!*sub && strcmp(method, "GET") == 0)
        action = ACT_GET;
    else if (!*sub && strcmp(method, "DELETE") == 0 && !rest_query(c, "for", scope, sizeof scope))
        action = ACT_DELETE;
    else if (strcmp(sub, "messages") == 0 && strcmp(method, "GET") == 0)
        action = ACT_HISTORY;
    else if (strcmp(sub, "claim") == 0 && strcmp(method, "POST") == 0)
        action = ACT_CLAIM;
    else if (strcmp(sub, "complete") == 0 && strcmp(method, "POST") == 0)
        action = ACT_COMPLETE;
    else if (strcmp(sub, "read") == 0 && strcmp(method, "POST") == 0) {
        json_t *s = json_object_get(c->body, "seq");
        if (!json_is_integer(s) || json_integer_value(s) < 0) {
            rest_error(c, 400, "bad_request", "expected {\"seq\": N}");
            return;
        }
        seq = (uint64_t)json_integer_value(s);
        action = ACT_READ;
    } else if (strcmp(sub, "members") == 0 && strcmp(method, "POST") == 0) {
        const char *u = json_string_value(json_object_get(c->body, "user"));
        if (!u || !*u || strlen(u) >= sizeof member) {
            rest_error(c, 400, "bad_request", "expected {\"user\": NAME}");
            return;
        }
        snprintf(member, sizeof member, "%s", u);
        action = ACT_MEMBER_ADD;
    } else if (strncmp(sub, "members/", 8) == 0 && sub[8] && strcmp(method, "DELETE") == 0) {
        snprintf(member, sizeof member, "%s", sub + 8);
        action = ACT_MEMBER_REMOVE;
    } else if (!group_route(c, sub, method, &action, member, sizeof member, &role, title)) {
        return; /* answered */
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
    snprintf(op->member, sizeof op->member, "%s", member);
    op->change.role = role;
    memcpy(op->title, title, sizeof op->title);
    void *state;
    storage(c->srv, &state)->room_get(state, room, c->user, room_action_cb, op);
}

/* ------------------------------------------------------------ STOMP */

/* One STOMP operation waiting for storage; the session may be gone when
 * the answer comes, so it is found again by id. */
struct stomp_op {
    struct server *srv;
    uint64_t session;
    char room[ROOM_ID_MAX];
    char *receipt;
    char *body;
    size_t body_len;
    char *client_id;
    char *content_type;
    char *sub_id;
    char *user;          /* READ: who read; SEND: the sender */
    int ack;
    int verb;            /* SEND, READ, TYPING, SUBSCRIBE */
    bool has_since;
    uint64_t since;      /* SUBSCRIBE since-seq; READ seq */
    uint64_t replayed;   /* highest seq replayed so far */
    uint64_t room_last;  /* SUBSCRIBE: the room's last seq when looked up */
    char trace[48];      /* SEND: follows the message into logs and its MESSAGE frames */
    int64_t started_ms;  /* SEND: when it arrived, for the store latency */
    struct sub *sub;
    chatd_room_kind kind; /* SEND: the room as looked up, for notifications */
    char **members;
    size_t nmembers;
    struct send_ticket *ticket; /* SEND: its place in the session's line (send_order.h) */
    uint64_t seq;               /* SEND: the stored message, until it is published */
    int64_t ts_ms;
    char *message_id;
};

enum { VERB_SEND = 1, VERB_READ, VERB_TYPING, VERB_SUBSCRIBE };

static void stomp_op_free(struct stomp_op *op)
{
    if (op->ticket)
        send_order_leave(op->ticket);
    session_op_end(op->srv, op->session);
    for (size_t i = 0; i < op->nmembers; i++)
        free(op->members[i]);
    free(op->members);
    free(op->receipt);
    free(op->body);
    free(op->client_id);
    free(op->content_type);
    free(op->sub_id);
    free(op->user);
    free(op->message_id);
    free(op);
}

/* Parse "/app/rooms/{room}/{verb}" or "/topic/rooms/{room}". */
static bool split_room_dest(const char *d, const char *prefix, char room[ROOM_ID_MAX], const char **verb)
{
    size_t pl = strlen(prefix);
    if (strncmp(d, prefix, pl) != 0)
        return false;
    const char *id = d + pl;
    const char *slash = strchr(id, '/');
    size_t n = slash ? (size_t)(slash - id) : strlen(id);
    if (!valid_room_id(id, n))
        return false;
    memcpy(room, id, n);
    room[n] = '\0';
    *verb = slash ? slash + 1 : "";
    return true;
}

static void send_stored_cb(void *ctx, chatd_status st, const struct chatd_message *m);
static void send_append(void *arg);

/* The session of op, still connected and a member of the room it looked
 * up; otherwise the client got its ERROR, op is freed and NULL returned. */
static struct session *member_session(struct stomp_op *op, chatd_status st, const struct chatd_room *room)
{
    struct session *s = session_lookup(op->srv, op->session);
    if (s && st != CHATD_OK && st != CHATD_ERR_NOT_FOUND)
        session_error_receipt(s, op->receipt, "storage unavailable", chatd_strerror(st));
    else if (s && (st == CHATD_ERR_NOT_FOUND || !room || !is_member(room, session_user(s))))
        session_error_receipt(s, op->receipt, "no such room", op->room);
    else if (s)
        return s;
    stomp_op_free(op);
    return NULL;
}

/* The headers of a `message` event, live or replayed; seq and ts are the
 * caller's buffers. */
static size_t message_headers(struct event_header h[10], const struct chatd_message *m, const char *content_type,
                              const char *trace, bool replay, char seq[24], char ts[24])
{
    snprintf(seq, 24, "%llu", (unsigned long long)m->seq);
    snprintf(ts, 24, "%lld", (long long)m->ts_ms);
    size_t n = 0;
    h[n++] = (struct event_header){"event", "message"};
    h[n++] = (struct event_header){"room", m->room};
    h[n++] = (struct event_header){"seq", seq};
    h[n++] = (struct event_header){"message-id", m->id};
    h[n++] = (struct event_header){"sender", m->sender};
    h[n++] = (struct event_header){"timestamp", ts};
    h[n++] = (struct event_header){"client-id", m->client_id};
    if (content_type)
        h[n++] = (struct event_header){"content-type", content_type};
    if (trace)
        h[n++] = (struct event_header){"trace-id", trace};
    if (replay)
        h[n++] = (struct event_header){"replay", "true"};
    return n;
}

/* A read mark is stored: only now the RECEIPT and the `read` event, so a
 * client that got the receipt finds its unread count updated. */
static void read_marked_cb(void *ctx, chatd_status st)
{
    struct stomp_op *op = ctx;
    struct session *s = session_lookup(op->srv, op->session);
    if (st != CHATD_OK) {
        if (s)
            session_error_receipt(s, op->receipt, "storage unavailable", chatd_strerror(st));
        stomp_op_free(op);
        return;
    }
    publish_room_event(op->srv, op->room, "read", json_pack("{s:s, s:s, s:I}", "room", op->room, "user",
                                                            op->user, "seq", (json_int_t)op->since));
    if (s)
        session_send_receipt(s, op->receipt);
    stomp_op_free(op);
}

static void send_room_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct stomp_op *op = ctx;
    struct session *s = member_session(op, st, room);
    if (!s)
        return;
    if (read_only(room) && op->verb == VERB_SEND) {
        session_error_receipt(s, op->receipt, "room is closed to new messages",
                              room->state == CHATD_ROOM_CLOSED ? "The customer closed this support room."
                                                               : "The agent completed this support room.");
        stomp_op_free(op);
        return;
    }
    void *state;
    const struct chatd_storage_ops *ops = storage(op->srv, &state);
    if (op->verb == VERB_TYPING) {
        publish_room_event(op->srv, op->room, "typing", json_pack("{s:s, s:s}", "room", op->room, "user", session_user(s)));
        session_send_receipt(s, op->receipt);
        stomp_op_free(op);
    } else if (op->verb == VERB_READ) {
        op->since = op->since > room->last_seq ? room->last_seq : op->since;
        if (!(op->user = strdup(session_user(s)))) {
            session_error_receipt(s, op->receipt, "internal error", "out of memory");
            stomp_op_free(op);
            return;
        }
        ops->read_mark(state, op->room, op->user, op->since, read_marked_cb, op);
    } else {
        op->kind = room->kind;
        op->members = calloc(room->nmembers ? room->nmembers : 1, sizeof *op->members);
        for (size_t i = 0; op->members && i < room->nmembers; i++)
            if ((op->members[op->nmembers] = strdup(room->members[i])))
                op->nmembers++;
        send_order_append(op->ticket, send_append, op);
    }
}

/* The SEND's turn: every earlier SEND of its session called its append (or
 * failed), so storage gets them in the order the client sent them. */
static void send_append(void *arg)
{
    struct stomp_op *op = arg;
    struct session *s = session_lookup(op->srv, op->session);
    if (!s) { /* gone, or closed by an ERROR for an earlier frame */
        stomp_op_free(op);
        return;
    }
    if (!(op->user = strdup(session_user(s)))) {
        session_error_receipt(s, op->receipt, "internal error", "out of memory");
        stomp_op_free(op);
        return;
    }
    struct chatd_message m = {.room = op->room, .sender = op->user, .client_id = op->client_id,
                              .ts_ms = clock_wall_ms(), .body = op->body, .body_len = op->body_len};
    void *state;
    storage(op->srv, &state)->message_append(state, &m, send_stored_cb, op);
}

static void sender_marked_cb(void *ctx, chatd_status st)
{
    struct stomp_op *op = ctx;
    if (st != CHATD_OK)
        log_warn("read mark of a sender in room %s not stored: %s", op->room, chatd_strerror(st));
    struct session *s = session_lookup(op->srv, op->session);
    if (s)
        session_send_receipt(s, op->receipt); /* the message itself is stored */
    stomp_op_free(op);
}

/* Stored, and every earlier message of the session published: now the fast
 * path, in the session's send order, then the sender's own read mark. */
static void send_publish(void *arg)
{
    struct stomp_op *op = arg;
    struct server *srv = op->srv;
    op->ticket = NULL; /* gone with this call */
    struct chatd_message m = {.room = op->room, .seq = op->seq, .id = op->message_id, .sender = op->user,
                              .client_id = op->client_id, .ts_ms = op->ts_ms, .body = op->body,
                              .body_len = op->body_len};
    char seq[24], ts[24], topic[128], origin[48];
    struct event_header h[11];
    size_t nh = message_headers(h, &m, op->content_type ? op->content_type : "text/plain", op->trace, false, seq, ts);
    h[nh++] = (struct event_header){ROUTER_ORIGIN, router_origin(srv->router, op->session, origin, sizeof origin)};
    room_topic(topic, sizeof topic, op->room);
    router_publish_event(srv->router, topic, h, nh, m.body, m.body_len);
    struct chatd_room room = {.id = op->room, .kind = op->kind, .members = (const char *const *)op->members,
                              .nmembers = op->nmembers};
    notify_members(srv, &room, &m, op->content_type);
    /* The RECEIPT waits for the sender's read mark too, so that what the
     * sender reads after it (its unread count) includes its own message,
     * whatever connection of the storage answers. */
    void *state;
    storage(srv, &state)->read_mark(state, op->room, m.sender, m.seq, sender_marked_cb, op);
}

static void send_stored_cb(void *ctx, chatd_status st, const struct chatd_message *m)
{
    struct stomp_op *op = ctx;
    struct server *srv = op->srv;
    /* (Out of memory for the id: stored and receipted, not live; a
     * subscriber catches up with since-seq.) */
    if (st == CHATD_OK && m && (op->message_id = strdup(m->id))) {
        int64_t ms = clock_wall_ms() - op->started_ms;
        metrics_observe(srv->metrics.store_latency, &srv->metrics.store_latency_sum, ms);
        srv->metrics.messages_stored++;
        log_msg(CHATD_LOG_DEBUG, "rooms", op->session, "stored room %s seq %llu as %s in %lld ms, trace %s", op->room,
                (unsigned long long)m->seq, m->id, (long long)ms, op->trace);
        op->seq = m->seq;
        op->ts_ms = m->ts_ms;
        send_order_publish(op->ticket, send_publish, op);
        return;
    }
    struct session *s = session_lookup(srv, op->session);
    if (s) {
        if (st == CHATD_OK || st == CHATD_ERR_EXISTS)
            session_send_receipt(s, op->receipt);
        else if (st == CHATD_ERR_NOT_FOUND)
            session_error_receipt(s, op->receipt, "no such room", op->room);
        else
            session_error_receipt(s, op->receipt, "message not stored", chatd_strerror(st));
    }
    if (st != CHATD_OK && st != CHATD_ERR_EXISTS && st != CHATD_ERR_NOT_FOUND) {
        srv->metrics.storage_errors++;
        log_msg(CHATD_LOG_WARN, "rooms", op->session, "message to room %s not stored: %s, trace %s", op->room,
                chatd_strerror(st), op->trace);
    }
    stomp_op_free(op);
}

/* The client's trace-id when it is a sane one (up to 40 of [A-Za-z0-9._:-]),
 * else a new one unique to this instance. */
static void trace_id(struct server *srv, const char *given, char *out, size_t outlen)
{
    size_t n = given ? strlen(given) : 0;
    if (n && n <= 40 && strspn(given, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:-") == n) {
        snprintf(out, outlen, "%s", given);
        return;
    }
    snprintf(out, outlen, "%s-t%llu", router_instance(srv->router), (unsigned long long)++srv->next_trace);
}

static struct stomp_op *stomp_op_new(struct session *s, const char *room, int verb, const char *receipt)
{
    struct stomp_op *op = calloc(1, sizeof *op);
    if (!op || (receipt && !(op->receipt = strdup(receipt)))) {
        free(op);
        session_error_receipt(s, receipt, "internal error", "out of memory");
        return NULL;
    }
    op->srv = session_server(s);
    op->session = session_id(s);
    op->verb = verb;
    session_op_begin(s);
    snprintf(op->room, sizeof op->room, "%s", room);
    return op;
}

/* A room message is text (message_body.h); anything else is refused
 * before it reaches storage. */
static bool send_body_ok(struct session *s, const struct stomp_frame *f, const char *receipt)
{
    char why[256];
    if (message_body_check(stomp_frame_header(f, "content-type"), f->body, f->body_len, why, sizeof why) == 0)
        return true;
    session_error_receipt(s, receipt, "invalid message body", why);
    return false;
}

void rooms_app_send(struct session *s, const char *destination, const struct stomp_frame *f, const char *receipt)
{
    char room[ROOM_ID_MAX];
    const char *verb;
    if (!split_room_dest(destination, "/app/rooms/", room, &verb)) {
        session_error_receipt(s, receipt, "unknown destination", destination);
        return;
    }
    int v = strcmp(verb, "send") == 0 ? VERB_SEND : strcmp(verb, "read") == 0 ? VERB_READ
          : strcmp(verb, "typing") == 0 ? VERB_TYPING : 0;
    if (!v) {
        session_error_receipt(s, receipt, "unknown destination", destination);
        return;
    }
    uint64_t seq = 0;
    if (v == VERB_READ) {
        json_t *j = json_loadb(f->body, f->body_len, 0, NULL);
        json_t *js = json_object_get(j, "seq");
        bool ok = json_is_integer(js) && json_integer_value(js) >= 0;
        seq = ok ? (uint64_t)json_integer_value(js) : 0;
        json_decref(j);
        if (!ok) {
            session_error_receipt(s, receipt, "invalid read body", "Expected {\"seq\": N}.");
            return;
        }
    }
    if (v == VERB_SEND && !send_body_ok(s, f, receipt))
        return;
    struct stomp_op *op = stomp_op_new(s, room, v, receipt);
    if (!op)
        return;
    op->srv = session_server(s);
    op->since = seq;
    if (v == VERB_SEND) {
        const char *cid = stomp_frame_header(f, "client-id");
        const char *ct = stomp_frame_header(f, "content-type");
        op->body = malloc(f->body_len + 1);
        op->ticket = send_order_enter(op->srv->send_order, op->session);
        if (!op->body || !op->ticket || (cid && !(op->client_id = strdup(cid))) ||
            (ct && !(op->content_type = strdup(ct)))) {
            session_error_receipt(s, receipt, "internal error", "out of memory");
            stomp_op_free(op);
            return;
        }
        memcpy(op->body, f->body, f->body_len);
        op->body[f->body_len] = '\0';
        op->body_len = f->body_len;
        op->started_ms = clock_wall_ms();
        trace_id(op->srv, stomp_frame_header(f, "trace-id"), op->trace, sizeof op->trace);
        log_msg(CHATD_LOG_DEBUG, "rooms", op->session, "SEND to room %s, %zu bytes, trace %s", room, f->body_len,
                op->trace);
    }
    void *state;
    storage(op->srv, &state)->room_get(state, room, NULL, send_room_cb, op);
}

/* The subscription exists and is held: replay what was missed, page by
 * page, then release the live events that arrived meanwhile. */
static void replay_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n);

static bool replay_sub_alive(struct stomp_op *op, struct session **out)
{
    struct session *s = session_lookup(op->srv, op->session);
    *out = s;
    return s && session_has_sub(s, op->sub);
}

static void replay_next(struct stomp_op *op)
{
    void *state;
    storage(op->srv, &state)->message_list(state, op->room, 0, op->replayed, REPLAY_PAGE, replay_cb, op);
}

static void replay_cb(void *ctx, chatd_status st, const struct chatd_message *msgs, size_t n)
{
    struct stomp_op *op = ctx;
    struct session *s;
    if (!replay_sub_alive(op, &s)) {
        stomp_op_free(op);
        return;
    }
    if (st != CHATD_OK) {
        session_error_receipt(s, op->receipt, "catch-up failed", chatd_strerror(st));
        stomp_op_free(op);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char seq[24], ts[24];
        struct event_header h[10];
        size_t nh = message_headers(h, &msgs[i], NULL, NULL, true, seq, ts);
        router_deliver_event_to(op->srv->router, op->sub, h, nh, msgs[i].body, msgs[i].body_len);
        op->replayed = msgs[i].seq;
    }
    if (n == REPLAY_PAGE) {
        replay_next(op);
        return;
    }
    router_release(op->srv->router, op->sub, op->replayed);
    session_send_receipt(s, op->receipt);
    stomp_op_free(op);
}

static void replay_when_live(void *arg, enum router_live how)
{
    struct stomp_op *op = arg;
    if (how == ROUTER_GONE) {
        stomp_op_free(op); /* the subscription went first */
        return;
    }
    if (how == ROUTER_FAILED) {
        struct session *s = session_lookup(op->srv, op->session);
        if (s)
            session_error_receipt(s, op->receipt, "subscription failed",
                                  "The broker could not subscribe the destination.");
        stomp_op_free(op);
        return;
    }
    replay_next(op);
}

static void subscribe_now(struct session *s, struct stomp_op *op, const char *resolved)
{
    if (session_has_sub_id(s, op->sub_id)) {
        session_error_receipt(s, op->receipt, "duplicate subscription id", NULL);
        stomp_op_free(op);
        return;
    }
    chatd_status st;
    struct sub *sub = router_subscribe(op->srv->router, s, op->sub_id, resolved, op->ack, &st);
    if (!sub || !session_add_sub(s, sub)) {
        if (sub)
            router_unsubscribe(op->srv->router, sub);
        session_error_receipt(s, op->receipt, sub ? "too many subscriptions" : "subscription failed",
                              sub ? NULL : chatd_strerror(st));
        stomp_op_free(op);
        return;
    }
    if (!op->has_since) {
        router_sub_seen(sub, op->room_last);
        session_receipt_when_live(s, sub, op->receipt);
        stomp_op_free(op);
        return;
    }
    /* Hold live events from now; once the broker delivers them, the replay
     * covers (since, now]. */
    op->sub = sub;
    op->replayed = op->since;
    router_hold(sub);
    router_when_live(op->srv->router, sub, replay_when_live, op);
}

static void subscribe_room_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct stomp_op *op = ctx;
    struct session *s = member_session(op, st, room);
    if (!s)
        return;
    char topic[128];
    room_topic(topic, sizeof topic, op->room);
    op->room_last = room->last_seq;
    subscribe_now(s, op, topic);
}

/* The broker was down: events published meanwhile are lost to this
 * instance. Every room subscription catches up from storage after the last
 * seq it had, exactly like a SUBSCRIBE with since-seq, with live events held
 * until the replay is done. */
void rooms_resync(struct server *srv)
{
    struct sub **subs;
    size_t n = router_collect_subs(srv->router, DEST_ROOM_TOPIC, &subs);
    size_t started = 0;
    for (size_t i = 0; i < n; i++) {
        struct sub *sub = subs[i];
        if (router_sub_held(sub))
            continue; /* already catching up */
        struct session *s = router_sub_session(sub);
        const char *room = router_sub_destination(sub) + strlen(DEST_ROOM_TOPIC);
        struct stomp_op *op = stomp_op_new(s, room, VERB_SUBSCRIBE, NULL);
        if (!op)
            continue;
        if (!(op->sub_id = strdup(router_sub_id(sub)))) {
            stomp_op_free(op);
            continue;
        }
        op->sub = sub;
        op->replayed = router_sub_last_seq(sub);
        router_hold(sub);
        replay_next(op);
        started++;
    }
    free(subs);
    if (started)
        log_info("broker ready again: %zu room subscriptions catch up from storage", started);
}

void rooms_subscribe(struct session *s, const char *destination, const char *id, int ack_mode,
                     const char *since_seq, const char *receipt)
{
    struct server *srv = session_server(s);
    if (strcmp(destination, DEST_SUPPORT_QUEUE) == 0 && !(session_roles(s) & CHATD_ROLE_AGENT)) {
        session_error_receipt(s, receipt, "destination not allowed", "Only agents watch the support queue.");
        return;
    }
    char room[ROOM_ID_MAX] = "";
    const char *rest = NULL;
    bool is_room = strncmp(destination, DEST_ROOM_TOPIC, strlen(DEST_ROOM_TOPIC)) == 0;
    if (is_room && (!split_room_dest(destination, DEST_ROOM_TOPIC, room, &rest) || *rest)) {
        session_error_receipt(s, receipt, "no such room", destination);
        return;
    }
    struct stomp_op *op = stomp_op_new(s, room, VERB_SUBSCRIBE, receipt);
    if (!op)
        return;
    op->srv = srv;
    op->ack = ack_mode;
    if (!(op->sub_id = strdup(id))) {
        session_error_receipt(s, receipt, "internal error", "out of memory");
        stomp_op_free(op);
        return;
    }
    if (since_seq) {
        if (!is_room || !parse_u64(since_seq, &op->since)) {
            session_error_receipt(s, receipt, "invalid since-seq header", "Expected a sequence number on a room topic.");
            stomp_op_free(op);
            return;
        }
        op->has_since = true;
    }
    if (!is_room) {
        char resolved[300];
        if (strcmp(destination, DEST_MY_NOTIFICATIONS) == 0)
            destination_notifications_of(resolved, sizeof resolved, session_user(s));
        else
            snprintf(resolved, sizeof resolved, "%s", destination);
        subscribe_now(s, op, resolved);
        return;
    }
    void *state;
    storage(srv, &state)->room_get(state, room, NULL, subscribe_room_cb, op);
}
