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
 *
 * The instances share their waits (first_response_on_news, _heard): each
 * tells the others when a wait begins, is flagged, or ends with an answer
 * or the room's completion there, so every instance's room lists show
 * every wait of the cluster, and an answer stored anywhere ends a wait
 * at once wherever it is kept. Only the instance a wait began on checks
 * its deadline and flags it (once); the others keep a copy. An instance
 * that starts (or hears again after a broker outage) asks, and the others
 * tell their waits again.
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

/* The wait of a room as this instance keeps it (its own, or a copy of
 * another instance's): false when it keeps none (answered, never heard
 * of); else since_ms and whether it is flagged. */
bool first_response_of(const struct first_response *fr, const char *room_id, int64_t *since_ms, bool *breached);
/* This instance's own waits kept now (copies of other instances' left
 * out), and how many of them are flagged. */
void first_response_counts(const struct first_response *fr, size_t *waiting, size_t *breached);
/* What one instance tells the others of a wait. */
enum wait_news_kind {
    WAIT_BEGAN = 'w',   /* since_ms, customer */
    WAIT_FLAGGED = 'b', /* since_ms, customer */
    WAIT_ENDED = 'e',   /* answered_ms: the answer's time, 0 for a completion or close */
    WAIT_ASKED = 'h',   /* an instance that started, or whose broker came back, asks for every
                         * wait: the others tell theirs again (room ""); nothing else in it */
};
struct wait_news {
    enum wait_news_kind kind;
    const char *room;
    const char *customer; /* WAIT_BEGAN, WAIT_FLAGGED; may be NULL otherwise */
    int64_t since_ms;
    int64_t answered_ms;
};
/* tell(ctx, news) for each change of this instance's own waits, and for
 * each wait a message stored here answered or a completion here ended
 * (the news is borrowed for the call). */
void first_response_on_news(struct first_response *fr, void (*tell)(void *ctx, const struct wait_news *n),
                            void *ctx);
/* This instance asks the others for their waits (WAIT_ASKED): at start,
 * and when the broker is back after an outage, so that it keeps a copy of
 * the waits that began while it could not hear. */
void first_response_ask(struct first_response *fr);
/* What another instance told: a copy of its wait kept, flagged or
 * dropped; an own wait another instance ended (an answer stored there)
 * ends here too, counted in the first-response histogram as if seen. */
void first_response_heard(struct first_response *fr, const struct wait_news *n);

/* Runs the deadline check now as the timer would at now_ms (tests). */
void first_response_check(struct first_response *fr, int64_t now_ms);
/* Whether the waits are kept in deadline order and each is found by its
 * room at its place (tests). */
bool first_response_sound(const struct first_response *fr);

#endif
