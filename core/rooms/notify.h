/* Offline notifications: the [notify] policy, coalescing per recipient and
 * room, the recipient's unread count, and the hand-off to every notify.*
 * plugin (docs/notifications.md).
 *
 * rooms/notices.c decides who is offline (presence, cluster-wide); the
 * events port (stomp/room_events.c) calls notify_offline once per message
 * and such member; this module decides whether and when that member hears
 * of it. */
#ifndef CHATD_NOTIFY_H
#define CHATD_NOTIFY_H

#include <chatd/plugin.h>
#include <stdint.h>

struct server;
struct notifier;

/* What an offline notification about a message says: the documented JSON
 * object's members (docs/notifications.md), for the encoder below. */
struct notification_event {
    const char *recipient, *room;
    chatd_room_kind room_kind;
    const char *message_id;
    uint64_t seq;
    const char *sender, *preview, *content_type;
    chatd_message_kind kind;
    uint64_t reply_to; /* 0: none */
    uint64_t unread;   /* the recipient's unread count in the room */
    size_t messages;   /* the messages this notification stands for */
};

/* The notification's JSON text as a new NUL-terminated string (free() it),
 * NULL when out of memory: core/wire/notification_json.c, given by the
 * composition root, so that the domain writes no JSON. */
typedef char *(*notification_encoder)(const struct notification_event *e);

struct notifier *notifier_new(struct server *srv, notification_encoder encode);
/* After the storage plugin is unloaded: no answer can arrive any more. */
void notifier_free(struct notifier *n);

/* text (text_len bytes) is the message's text, preview its preview (see
 * preview.h), both as rooms/notices.c made them for every notification of m;
 * borrowed for the call. */
void notify_offline(struct notifier *n, const struct chatd_room *room, const struct chatd_message *m,
                    const char *recipient, const char *text, size_t text_len, const char *preview);

/* A notification (in-band or offline) about event in room, meant for
 * recipient, was not built or not handed on: logged with why and counted
 * in chatd_notifications_failed_total. */
void notify_failed(struct server *srv, const char *recipient, const char *room, const char *event, const char *why);

/* Whether text names user as "@user" (not followed by a name character). */
bool notify_mentions(const char *text, size_t len, const char *user);

#endif
