/* An offline notification about a message as the documented JSON object
 * (docs/notifications.md): what every notify plugin gets in
 * chatd_notification.json. */
#ifndef CHATD_NOTIFICATION_JSON_H
#define CHATD_NOTIFICATION_JSON_H

#include "rooms/notify.h"

/* e as one compact JSON object, a new NUL-terminated string (free() it);
 * NULL when out of memory. */
char *notification_json(const struct notification_event *e);

#endif
