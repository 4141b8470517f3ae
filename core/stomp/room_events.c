#include "stomp/room_events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"
#include "rooms/group_roles.h"
#include "rooms/message_body.h"
#include "rooms/notify.h"
#include "rooms/rooms.h"
#include "server.h"
#include "stomp/destinations.h"
#include "wire/room_json.h"

/* An event on a room's topic (or on its notes' topic): `event` and `room`
 * headers, a JSON body (stolen). `revoked`: a user whose subscriptions to
 * that topic end with this event (they left or were removed), else NULL. */
static void topic_event_ending(struct server *srv, const char *topic, const char *room, const char *event,
                               json_t *body, const char *revoked)
{
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

static void room_event_ending(struct server *srv, const char *room, const char *event, json_t *body,
                              const char *revoked)
{
    char topic[128];
    destination_room_topic(topic, sizeof topic, room);
    topic_event_ending(srv, topic, room, event, body, revoked);
}

static void room_event(struct server *srv, const char *room, const char *event, json_t *body)
{
    room_event_ending(srv, room, event, body, NULL);
}

/* The support queue changed (`opened`, `claimed`, `closed`): body = the room. */
static void room_queue_event(struct server *srv, const char *event, const struct chatd_room *r)
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
static void room_notify_user(struct server *srv, const char *user, const char *event, const char *room, json_t *body)
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

/* `deleted`, the last event of a room that is gone: every subscription to
 * it ends, on every instance. body is stolen. */
static void room_event_deleted(struct server *srv, const char *room, json_t *body)
{
    char topic[128];
    destination_room_topic(topic, sizeof topic, room);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct event_header h[] = {{"event", "deleted"}, {"room", room}, {"content-type", "application/json"},
                               {ROUTER_REVOKE_ALL, "true"}};
    chatd_status st = text ? router_publish_event(srv->router, topic, h, 4, text, strlen(text)) : CHATD_ERR_NOMEM;
    if (st != CHATD_OK)
        log_warn("event deleted for room %s not published: %s", room, chatd_strerror(st));
    free(text);
}

size_t room_message_headers(struct event_header h[ROOM_MESSAGE_HEADERS], const char *event,
                            const struct chatd_message *m, const char *content_type, const char *trace, bool replay,
                            char nums[96], char ts[24])
{
    char *seq = nums, *reply = nums + 24, *rev = nums + 48, *edited = nums + 72;
    snprintf(seq, 24, "%llu", (unsigned long long)m->seq);
    snprintf(reply, 24, "%llu", (unsigned long long)m->reply_to);
    snprintf(rev, 24, "%llu", (unsigned long long)m->rev);
    snprintf(edited, 24, "%lld", (long long)m->edited_ms);
    snprintf(ts, 24, "%lld", (long long)m->ts_ms);
    size_t n = 0;
    h[n++] = (struct event_header){"event", event};
    h[n++] = (struct event_header){"room", m->room};
    h[n++] = (struct event_header){"seq", seq};
    h[n++] = (struct event_header){"message-id", m->id};
    h[n++] = (struct event_header){"sender", m->sender};
    h[n++] = (struct event_header){"timestamp", ts};
    h[n++] = (struct event_header){"client-id", m->client_id};
    if (!content_type)
        content_type = message_content_type(m->content_type, m->body, m->body_len);
    h[n++] = (struct event_header){"content-type", content_type};
    h[n++] = (struct event_header){"kind", room_message_kind_name(m->kind)};
    if (m->reply_to)
        h[n++] = (struct event_header){"reply-to", reply};
    if (m->rev) {
        h[n++] = (struct event_header){"rev", rev};
        h[n++] = (struct event_header){"edited-at", edited};
    }
    if (m->deleted)
        h[n++] = (struct event_header){"deleted", "true"};
    if (trace)
        h[n++] = (struct event_header){"trace-id", trace};
    if (replay)
        h[n++] = (struct event_header){"replay", "true"};
    return n;
}

/* ------------------------------------------------- the domain's events */

static void on_opened(void *ctx, const struct chatd_room *r)
{
    room_queue_event(ctx, "opened", r);
}

static void on_added(void *ctx, const char *user, const char *room_id, const struct chatd_room *r)
{
    room_notify_user(ctx, user, "room-added", room_id, r ? room_json(r, NULL) : json_pack("{s:s}", "room", room_id));
}

static void on_claimed(void *ctx, const struct chatd_room *r)
{
    struct server *srv = ctx;
    room_event(srv, r->id, "assigned", json_pack("{s:s, s:s}", "room", r->id, "agent", r->agent));
    room_queue_event(srv, "claimed", r);
    room_notify_user(srv, r->owner, "assigned", r->id, room_json(r, NULL));
}

static void on_completed(void *ctx, const struct chatd_room *r)
{
    room_event(ctx, r->id, "completed", json_pack("{s:s, s:s}", "room", r->id, "agent", r->agent));
}

static void on_closed(void *ctx, const char *room_id, const char *by, const struct chatd_room *r)
{
    struct server *srv = ctx;
    room_event(srv, room_id, "closed", json_pack("{s:s, s:s}", "room", room_id, "by", by));
    if (r && r->agent)
        room_notify_user(srv, r->agent, "closed", r->id, room_json(r, NULL));
    else if (r)
        room_queue_event(srv, "closed", r); /* it leaves the unassigned queue */
}

/* On the room (no note: the customer reads it), its previous agent's
 * subscriptions ending; on the queue, for the agents, with the note; to
 * the new agent, the room (room-added) and the hand-over with the note. */
static void on_transferred(void *ctx, const struct chatd_room *r, const char *from, const char *by, const char *note)
{
    struct server *srv = ctx;
    room_event_ending(srv, r->id, "transferred",
                      json_pack("{s:s, s:s, s:s?, s:s}", "room", r->id, "from", from, "to", r->agent, "by", by),
                      from);
    /* The previous agent's watch of the room's notes ends with it too. */
    char notes[160];
    destination_notes_topic(notes, sizeof notes, r->id);
    topic_event_ending(srv, notes, r->id, "transferred",
                       json_pack("{s:s, s:s, s:s?, s:s}", "room", r->id, "from", from, "to", r->agent, "by", by),
                       from);
    json_t *j = json_pack("{s:s, s:s, s:s?, s:s}", "room", r->id, "from", from, "to", r->agent, "by", by);
    if (j && note)
        json_object_set_new(j, "note", json_string(note));
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    struct event_header h[] = {{"event", "transferred"}, {"room", r->id}, {"content-type", "application/json"}};
    chatd_status st = text ? router_publish_event(srv->router, DEST_SUPPORT_QUEUE, h, 3, text, strlen(text))
                           : CHATD_ERR_NOMEM;
    if (st != CHATD_OK)
        log_warn("event transferred for room %s not published on the queue: %s", r->id, chatd_strerror(st));
    free(text);
    if (r->agent) {
        room_notify_user(srv, r->agent, "room-added", r->id, room_json(r, NULL));
        room_notify_user(srv, r->agent, "transferred", r->id, j);
    } else {
        json_decref(j);
    }
}

static void on_reopened(void *ctx, const struct chatd_room *r)
{
    struct server *srv = ctx;
    room_event(srv, r->id, "reopened", json_pack("{s:s, s:s?, s:s}", "room", r->id, "agent", r->agent, "state",
                                                 r->agent ? "assigned" : "open"));
    room_queue_event(srv, "reopened", r);
}

/* For the agents: a customer has waited past the first-response target.
 * Not the room: the agents' lists read it again (it shows sla_breached). */
static void on_sla_breached(void *ctx, const char *room_id, const char *customer, int64_t since_ms,
                            long long target_ms)
{
    struct server *srv = ctx;
    json_t *j = json_pack("{s:s, s:s, s:I, s:I}", "room", room_id, "customer", customer, "waiting_since",
                          (json_int_t)since_ms, "target_ms", (json_int_t)target_ms);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    struct event_header h[] = {{"event", "sla-breached"}, {"room", room_id}, {"content-type", "application/json"}};
    chatd_status st = text ? router_publish_event(srv->router, DEST_SUPPORT_QUEUE, h, 3, text, strlen(text))
                           : CHATD_ERR_NOMEM;
    if (st != CHATD_OK)
        log_warn("event sla-breached for room %s not published: %s", room_id, chatd_strerror(st));
    free(text);
}

/* For the agents: on the support queue topic, the room with its rating. */
static void on_rated(void *ctx, const struct chatd_room *r)
{
    room_queue_event(ctx, "rated", r);
}

static void on_member_joined(void *ctx, const char *room_id, const char *user, const char *by)
{
    room_event(ctx, room_id, "member-joined", json_pack("{s:s, s:s, s:s}", "room", room_id, "user", user, "by", by));
}

static void on_member_left(void *ctx, const char *room_id, const char *user, const char *by, bool erased)
{
    json_t *body = erased ? json_pack("{s:s, s:s, s:b}", "room", room_id, "user", user, "erased", true)
                          : json_pack("{s:s, s:s, s:s*}", "room", room_id, "user", user, "by", by);
    room_event_ending(ctx, room_id, "member-left", body, user);
}

static void on_role_changed(void *ctx, const char *room_id, const char *user, chatd_member_role role, const char *by)
{
    room_event(ctx, room_id, "role-changed", json_pack("{s:s, s:s, s:s, s:s}", "room", room_id, "user", user, "role",
                                                       group_role_name(role), "by", by));
}

static void on_renamed(void *ctx, const char *room_id, const char *title, const char *by)
{
    room_event(ctx, room_id, "renamed", json_pack("{s:s, s:s, s:s}", "room", room_id, "title", title, "by", by));
}

static void on_deleted(void *ctx, const char *room_id, const char *by, bool erased)
{
    room_event_deleted(ctx, room_id, erased ? json_pack("{s:s, s:b}", "room", room_id, "erased", true)
                                            : json_pack("{s:s, s:s}", "room", room_id, "by", by));
}

/* Everyone in the room sees how far user read; user's own sessions, on
 * every instance and subscribed to the room or not, get their unread count
 * (badges on another device follow a read on this one). */
static void on_read(void *ctx, const char *room_id, const char *user, uint64_t seq, uint64_t unread)
{
    room_event(ctx, room_id, "read", json_pack("{s:s, s:s, s:I}", "room", room_id, "user", user, "seq",
                                               (json_int_t)seq));
    room_notify_user(ctx, user, "unread", room_id,
                     json_pack("{s:s, s:I, s:I}", "room", room_id, "read_seq", (json_int_t)seq, "unread",
                               (json_int_t)unread));
}

static void on_typing(void *ctx, const char *room_id, const char *user)
{
    room_event(ctx, room_id, "typing", json_pack("{s:s, s:s}", "room", room_id, "user", user));
}

/* The fast path of a stored message; `origin` (the sending session) lets
 * the gateway hold back a publisher whose readers fall behind. */
static void on_message(void *ctx, const struct chatd_message *m, const char *content_type, const char *trace,
                       uint64_t origin)
{
    struct server *srv = ctx;
    char nums[96], ts[24], topic[128], from[48];
    struct event_header h[ROOM_MESSAGE_HEADERS + 1];
    size_t nh = room_message_headers(h, "message", m, content_type, trace, false, nums, ts);
    h[nh++] = (struct event_header){ROUTER_ORIGIN, router_origin(srv->router, origin, from, sizeof from)};
    destination_room_topic(topic, sizeof topic, m->room);
    router_publish_event(srv->router, topic, h, nh, m->body, m->body_len);
}

/* An internal note: on the room's notes topic alone, never on the room's
 * (which its customer watches). The same headers as a message's, with
 * event `note` and kind `note`. */
static void on_note(void *ctx, const struct chatd_message *m, const char *trace, uint64_t origin)
{
    struct server *srv = ctx;
    char nums[96], ts[24], topic[160], from[48];
    struct event_header h[ROOM_MESSAGE_HEADERS + 1];
    size_t nh = room_message_headers(h, "note", m, NULL, trace, false, nums, ts);
    for (size_t i = 0; i < nh; i++)
        if (strcmp(h[i].name, "kind") == 0)
            h[i].value = "note";
    h[nh++] = (struct event_header){ROUTER_ORIGIN, router_origin(srv->router, origin, from, sizeof from)};
    destination_notes_topic(topic, sizeof topic, m->room);
    chatd_status st = router_publish_event(srv->router, topic, h, nh, m->body, m->body_len);
    if (st != CHATD_OK)
        log_warn("note for room %s not published: %s", m->room, chatd_strerror(st));
}

/* An edit or delete: the message as it now is (a delete's body empty),
 * with its rev, and who changed it. */
static void on_message_changed(void *ctx, const struct chatd_message *m, const char *by, const char *trace,
                               uint64_t origin)
{
    struct server *srv = ctx;
    char nums[96], ts[24], topic[128], from[48];
    struct event_header h[ROOM_MESSAGE_HEADERS + 2];
    size_t nh = room_message_headers(h, m->deleted ? "message-deleted" : "message-edited", m, NULL, trace, false,
                                     nums, ts);
    h[nh++] = (struct event_header){"by", by};
    h[nh++] = (struct event_header){ROUTER_ORIGIN, router_origin(srv->router, origin, from, sizeof from)};
    destination_room_topic(topic, sizeof topic, m->room);
    chatd_status st = router_publish_event(srv->router, topic, h, nh, m->body ? m->body : "", m->body_len);
    if (st != CHATD_OK)
        log_warn("event message-%s for room %s not published: %s", m->deleted ? "deleted" : "edited", m->room,
                 chatd_strerror(st));
}

/* A reaction added or taken back: who, which, and the message's counts
 * now (without `me`: one event goes to every member). */
static void on_reaction(void *ctx, const char *room_id, uint64_t seq, const char *emoji, const char *user, bool added,
                        const struct chatd_reaction_count *counts, size_t n)
{
    json_t *rx = room_reactions_json(counts, n, false);
    room_event(ctx, room_id, "reaction",
               rx ? json_pack("{s:s, s:I, s:s, s:s, s:s, s:o}", "room", room_id, "seq", (json_int_t)seq, "emoji",
                              emoji, "user", user, "action", added ? "added" : "removed", "reactions", rx)
                  : NULL);
}

static void on_message_notice(void *ctx, const struct chatd_room *r, const struct chatd_message *m,
                              const char *member, const char *preview)
{
    room_notify_user(ctx, member, "message", r->id,
                     json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:o}", "event", "message", "room",
                               r->id, "room_kind", room_kind_name(r->kind), "seq", (json_int_t)m->seq, "message_id",
                               m->id, "sender", m->sender, "preview", preview, "content_type",
                               message_content_type(m->content_type, m->body, m->body_len), "kind",
                               room_message_kind_name(m->kind), "reply_to",
                               m->reply_to ? json_integer((json_int_t)m->reply_to) : json_null()));
}

static void on_message_offline(void *ctx, const struct chatd_room *r, const struct chatd_message *m,
                               const char *member, const char *text, size_t text_len, const char *preview)
{
    struct server *srv = ctx;
    notify_offline(srv->notifier, r, m, member, text, text_len, preview);
}

static void on_notice_failed(void *ctx, const char *member, const char *room_id, const char *event, const char *why)
{
    notify_failed(ctx, member, room_id, event, why);
}

/* Every instance sees every change: each tells its own watchers only. */
static void on_agent_status(void *ctx, const char *agent, const char *status)
{
    struct server *srv = ctx;
    struct sub **subs = NULL;
    size_t n = router_collect_subs(srv->router, DEST_SUPPORT_AGENTS, &subs);
    json_t *body = n ? json_pack("{s:s, s:s}", "user", agent, "status", status) : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    struct event_header h[] = {{"event", "agent-status"}, {"user", agent}, {"content-type", "application/json"}};
    for (size_t i = 0; text && i < n; i++)
        if (strcmp(router_sub_destination(subs[i]), DEST_SUPPORT_AGENTS) == 0)
            router_deliver_event_to(srv->router, subs[i], h, 3, text, strlen(text));
    free(text);
    free(subs);
}

/* To `to` on /user/queue/presence: one event per change they may see. */
static void on_presence(void *ctx, const char *to, const char *user, enum user_status status, int64_t last_seen_ms)
{
    struct server *srv = ctx;
    char dest[300];
    destination_presence_of(dest, sizeof dest, to);
    json_t *body = json_pack("{s:s, s:s}", "user", user, "status", user_status_name(status));
    if (body)
        json_object_set_new(body, "last_seen", last_seen_ms ? json_integer(last_seen_ms) : json_null());
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (!text)
        return;
    struct event_header h[] = {{"event", "presence"}, {"user", user}, {"content-type", "application/json"}};
    chatd_status st = router_publish_event(srv->router, dest, h, 3, text, strlen(text));
    if (st != CHATD_OK)
        log_debug("presence of %s for %s not published: %s", user, to, chatd_strerror(st));
    free(text);
}

static void on_queue_position(void *ctx, const char *customer, const char *room_id, size_t position,
                              long long estimated_wait_ms)
{
    json_t *body = json_pack("{s:s, s:I}", "room", room_id, "position", (json_int_t)position);
    if (body && estimated_wait_ms >= 0)
        json_object_set_new(body, "estimated_wait_ms", json_integer(estimated_wait_ms));
    room_notify_user(ctx, customer, "queue-position", room_id, body);
}

void room_events_port_init(struct room_events_port *port, struct server *srv)
{
    *port = (struct room_events_port){
        .ctx = srv,
        .opened = on_opened,
        .added = on_added,
        .claimed = on_claimed,
        .completed = on_completed,
        .closed = on_closed,
        .member_joined = on_member_joined,
        .member_left = on_member_left,
        .role_changed = on_role_changed,
        .renamed = on_renamed,
        .deleted = on_deleted,
        .read = on_read,
        .typing = on_typing,
        .message = on_message,
        .message_changed = on_message_changed,
        .reaction = on_reaction,
        .message_notice = on_message_notice,
        .message_offline = on_message_offline,
        .notice_failed = on_notice_failed,
        .agent_status = on_agent_status,
        .presence = on_presence,
        .queue_position = on_queue_position,
        .transferred = on_transferred,
        .reopened = on_reopened,
        .sla_breached = on_sla_breached,
        .rated = on_rated,
        .note = on_note,
    };
}
