/* How far each member has read a room: a member raises their read mark
 * (never past the room's last message), and the room hears of it. */
#ifndef CHATD_READ_MARKS_H
#define CHATD_READ_MARKS_H

#include <stdint.h>

#include "rooms/rooms.h"

/* seq: the mark as stored. */
typedef void (*read_mark_answer_cb)(void *ctx, const struct room_answer *a, uint64_t seq);
/* `user` has read the room up to seq: OK once stored (then the `read`
 * event), NOT_FOUND for someone not a member. */
void read_mark_set(struct rooms *r, const char *room_id, const char *user, uint64_t seq, read_mark_answer_cb cb,
                   void *ctx);

#endif
