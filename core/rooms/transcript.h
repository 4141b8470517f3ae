/* A support room's transcript: the room and every message in order, as
 * its customer, its agents (members) and admins download it (GET
 * /api/rooms/{room}/transcript, docs/support-desk.md#transcripts). Read
 * through the storage's history pages (message_list, TRANSCRIPT_PAGE at a
 * time), never in one unbounded read, and at most TRANSCRIPT_MAX_MESSAGES
 * messages: the reader is told when there were more. */
#ifndef CHATD_TRANSCRIPT_H
#define CHATD_TRANSCRIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

#define TRANSCRIPT_PAGE 100
#define TRANSCRIPT_MAX_MESSAGES 10000

/* Who may read a room's transcript: anyone who sees the room
 * (room_can_see), and an admin any support room. */
bool transcript_allowed(const struct chatd_room *r, const char *user, uint32_t roles);

/* The transcript, handed over as it is read. `room` comes first (once,
 * only when the reader may read it), then `messages` page by page, oldest
 * first, then `done` exactly once: OK (truncated: the room holds more than
 * TRANSCRIPT_MAX_MESSAGES messages, the newest left out), or the refusal
 * or failure, after which what came before is to be dropped. Every
 * pointer handed over is valid during the call only. Core thread. */
struct transcript_reader {
    void *ctx;
    void (*room)(void *ctx, const struct chatd_room *room);
    void (*messages)(void *ctx, const struct chatd_message *msgs, size_t n);
    void (*done)(void *ctx, const struct room_answer *a, bool truncated);
};

/* Read the transcript of `room_id` for `user` (roles): NOT_FOUND for a
 * room they may not see, BAD_REQUEST for a room that is no support room,
 * UNAVAILABLE when the storage fails on the way. */
void transcript_read(struct rooms *r, const char *room_id, const char *user, uint32_t roles,
                     const struct transcript_reader *reader);

#endif
