/* What the rooms tell clients without being asked, as the STOMP side
 * publishes it: the rooms domain's events port (rooms/rooms.h struct
 * room_events_port), encoded as JSON events on a room's topic, on the
 * support queue and as personal notifications (in-band to connected
 * members, through notify plugins to the others). Every instance gets them
 * through the broker. */
#ifndef CHATD_ROOM_EVENTS_H
#define CHATD_ROOM_EVENTS_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

#include "stomp/router.h"

struct server;
struct room_events_port;

/* Fill port with the functions that publish the domain's events for srv. */
void room_events_port_init(struct room_events_port *port, struct server *srv);

/* The headers of a message event, live or replayed (replay: true): at
 * most ROOM_MESSAGE_HEADERS; event: "message", "message-edited" or
 * "message-deleted"; content_type (NULL: the message's, or the one its
 * body reads as) and trace may be NULL; nums (96 bytes: the seq, the
 * reply-to, the rev and the edited-at) and ts are the caller's buffers. A
 * changed message carries rev and edited-at, a deleted one deleted: true.
 * Returns how many. */
#define ROOM_MESSAGE_HEADERS 16
size_t room_message_headers(struct event_header h[ROOM_MESSAGE_HEADERS], const char *event,
                            const struct chatd_message *m, const char *content_type, const char *trace, bool replay,
                            char nums[96], char ts[24]);

#endif
