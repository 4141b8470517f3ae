/* Who hears of a stored message, and how: every member but its sender who
 * does not watch the room; in-band when online, through the notify plugins
 * when not; each with one preview of the message's text. */
#ifndef CHATD_NOTICES_H
#define CHATD_NOTICES_H

#include "rooms/rooms.h"

/* m was stored in room r (its id, kind and members suffice); content_type
 * may be NULL. Tells the events port once per member who is to hear of it. */
void notices_for_message(struct rooms *r, const struct chatd_room *room, const struct chatd_message *m,
                         const char *content_type);

#endif
