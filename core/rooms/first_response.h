/* The first-response target of the support desk ([support]
 * first_response_target; docs/support-desk.md, "Service levels"). A
 * customer who waits for an agent's message longer than the target is
 * flagged, once per wait: the rooms' sla_breached event, the breach
 * counter of /metrics, and the view the room lists show.
 *
 * A wait starts when a support room is opened, sent back to the queue by
 * a transfer, or reopened by its customer, on this instance; it ends with
 * the first message of someone else than the customer (not a system
 * message), or when the room is completed or closed. One libevent timer,
 * armed at the earliest deadline, flags the waits that reach it; before it
 * flags one, it reads the room's messages since the wait began from the
 * storage, so an answer stored on another instance ends the wait too.
 * Core thread only. */
#ifndef CHATD_FIRST_RESPONSE_H
#define CHATD_FIRST_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

struct event_base;
struct first_response;

/* At most this many waits are kept; a new one beyond it drops the oldest
 * flagged one (or, when none is flagged, is not kept). */
#define FIRST_RESPONSE_MAX_WAITS 20000

/* target_ms 0: nothing is flagged (the waits are still kept, for the
 * first-response histogram). */
struct first_response *first_response_new(struct rooms *r, struct event_base *base, long long target_ms);
/* A reload changed the target: the timer is armed again for it (0 stops
 * it). Waits already flagged stay flagged. */
void first_response_set_target(struct first_response *fr, long long target_ms);
/* Shutting down, before the storage's last answers run. */
void first_response_close(struct first_response *fr);
/* After the storage plugin went. */
void first_response_free(struct first_response *fr);

/* A wait starts: room's customer waits since since_ms for a message after
 * seq after_seq. opening: the wait began with the room (its end is
 * counted in the first-response histogram). A wait already kept for the
 * room is replaced. */
void first_response_wait(struct first_response *fr, const char *room_id, const char *customer, int64_t since_ms,
                         uint64_t after_seq, bool opening);
/* A message was stored in a room: ends the room's wait unless its sender
 * is the customer or it is a system message. */
void first_response_message(struct first_response *fr, const struct chatd_message *m);
/* The room was completed or closed: its wait, if any, is forgotten. */
void first_response_forget(struct first_response *fr, const char *room_id);

/* The wait of a room as this instance keeps it: false when it keeps none
 * (answered, never seen here); else since_ms and whether it is flagged. */
bool first_response_of(const struct first_response *fr, const char *room_id, int64_t *since_ms, bool *breached);
/* Waits kept now, and how many of them are flagged. */
void first_response_counts(const struct first_response *fr, size_t *waiting, size_t *breached);
/* Runs the deadline check now as the timer would at now_ms (tests). */
void first_response_check(struct first_response *fr, int64_t now_ms);

#endif
