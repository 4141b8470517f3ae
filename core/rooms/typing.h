/* The typing signal: a member is typing; not stored, only told. */
#ifndef CHATD_TYPING_H
#define CHATD_TYPING_H

#include "rooms/rooms.h"

/* OK once the room heard of it; NOT_FOUND for someone not a member. */
void typing_signal(struct rooms *r, const char *room_id, const char *user, done_answer_cb cb, void *ctx);

#endif
