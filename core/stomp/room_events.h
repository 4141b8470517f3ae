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

/* The headers of a `message` event, live or replayed (replay: true): at
 * most ROOM_MESSAGE_HEADERS; content_type (NULL: the message's, or the
 * one its body reads as) and trace may be NULL; seq (48 bytes: the seq and
 * the reply-to) and ts are the caller's buffers. Returns how many. */
#define ROOM_MESSAGE_HEADERS 12
size_t room_message_headers(struct event_header h[ROOM_MESSAGE_HEADERS], const struct chatd_message *m,
                            const char *content_type, const char *trace, bool replay, char seq[48], char ts[24]);

#endif
