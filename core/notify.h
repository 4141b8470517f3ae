/* Offline notifications: the [notify] policy, coalescing per recipient and
 * room, the recipient's unread count, and the hand-off to every notify.*
 * plugin (docs/notifications.md).
 *
 * rooms.c decides who is offline (presence, cluster-wide) and calls
 * notify_offline once per message and such member; this module decides
 * whether and when that member hears of it. */
#ifndef CHATD_NOTIFY_H
#define CHATD_NOTIFY_H

#include <chatd/plugin.h>
#include <stdint.h>

struct server;
struct notifier;

struct notifier *notifier_new(struct server *srv);
/* After the storage plugin is unloaded: no answer can arrive any more. */
void notifier_free(struct notifier *n);

void notify_offline(struct notifier *n, const struct chatd_room *room, const struct chatd_message *m,
                    const char *recipient);

/* The start of a message for a preview: at most max bytes, never cutting a
 * UTF-8 sequence. Returns the length to keep. */
size_t notify_preview_len(const char *body, size_t len, size_t max);
/* Whether body names user as "@user" (not followed by a name character). */
bool notify_mentions(const char *body, size_t len, const char *user);

#endif
