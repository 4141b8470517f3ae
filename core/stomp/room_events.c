#include "stomp/room_events.h"

#include <stdlib.h>
#include <string.h>

#include "stomp/destinations.h"
#include "log.h"
#include "rooms/message_body.h"
#include "rooms/notify.h"
#include "rooms/presence.h"
#include "rooms/preview.h"
#include "wire/room_json.h"
#include "stomp/router.h"
#include "server.h"

/* An event on a room's topic: `event` and `room` headers, a JSON body.
 * `revoked`: a user whose subscriptions to the room end with this event
 * (they left or were removed), else NULL. */
void room_event_ending(struct server *srv, const char *room, const char *event, json_t *body,
                                      const char *revoked)
{
    char topic[128];
    destination_room_topic(topic, sizeof topic, room);
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

void room_event(struct server *srv, const char *room, const char *event, json_t *body)
{
    room_event_ending(srv, room, event, body, NULL);
}

void room_queue_event(struct server *srv, const char *event, const struct chatd_room *r)
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
void room_notify_user(struct server *srv, const char *user, const char *event, const char *room, json_t *body)
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
void room_notify_members(struct server *srv, const struct chatd_room *r, const struct chatd_message *m,
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
            room_notify_user(srv, member, "message", r->id,
                        json_pack("{s:s, s:s, s:s, s:I, s:s, s:s, s:s}", "event", "message", "room", r->id,
                                  "room_kind", room_kind_name(r->kind), "seq", (json_int_t)m->seq, "message_id", m->id,
                                  "sender", m->sender, "preview", preview));
        } else {
            notify_offline(srv->notifier, r, m, member, text, text_len, preview);
        }
    }
    free(text);
    free(preview);
}

/* `deleted`, the last event of a room that is gone: every subscription to
 * it ends, on every instance. body is stolen. */
void room_event_deleted(struct server *srv, const char *room, json_t *body)
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

void rooms_erased_member_left(struct server *srv, const char *room, const char *user)
{
    room_event_ending(srv, room, "member-left",
                              json_pack("{s:s, s:s, s:b}", "room", room, "user", user, "erased", true), user);
}

void rooms_erased_room_deleted(struct server *srv, const char *room)
{
    room_event_deleted(srv, room, json_pack("{s:s, s:b}", "room", room, "erased", true));
}
