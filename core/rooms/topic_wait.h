/* How long a topic room waits for an agent with its skill before any agent
 * may take it ([support] topic_wait; docs/support-desk.md, "Topics and
 * skills"). Plain rules and the routing instance's record of when each
 * waiting room entered the queue; no I/O. Core thread only.
 *
 * The storage keeps no time of entry into the queue (a room sent back or
 * reopened has assigned_ms 0 and its old created_ms). The routing takes it
 * from the customer's first-response wait (rooms/first_response.h), which
 * begins with each entry and is shared by the instances; where none is
 * kept (answered meanwhile, a restart), from this record: the first pass
 * that listed the room in the queue. Every entry asks for a pass at once,
 * so that is the moment of entry give or take a broker round trip; after
 * a restart or a change of routing instance such waits start again from
 * the first pass there: a wait may grow, never shorten. The assignment
 * waits of /metrics and the queue estimate count from the same time
 * (routing_queued_since). */
#ifndef CHATD_TOPIC_WAIT_H
#define CHATD_TOPIC_WAIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether a room with a topic, waiting in the queue since since_ms, may go
 * to any available agent at now_ms: wait_ms > 0 (0 = never, it waits for a
 * skilled agent for ever) and it has waited at least wait_ms. */
bool topic_wait_over(long long wait_ms, int64_t since_ms, int64_t now_ms);

struct topic_wait;

struct topic_wait *topic_wait_new(void);
void topic_wait_free(struct topic_wait *tw);

/* A pass listed the queue: ids[0..n), each a room waiting now. since_ms[i]
 * gets when room i entered the queue as this record knows it: kept from
 * the passes before, or now_ms for a room it did not list before (or was
 * told of by topic_wait_restart). Rooms not listed are forgotten (taken,
 * closed): one that comes back starts a new wait. -1: out of memory, the
 * record is left as it was and since_ms[i] is now_ms for the rooms it did
 * not hold (a wait that grows, never one that shortens). */
int topic_wait_listed(struct topic_wait *tw, const char *const *ids, size_t n, int64_t now_ms, int64_t *since_ms);

/* The room entered the queue again here (sent back by a transfer,
 * reopened), maybe between two passes that both list it: its wait starts
 * at the next pass. */
void topic_wait_restart(struct topic_wait *tw, const char *room_id);

/* When the record has room_id entering the queue (the first pass that
 * listed it since it last entered): false when it holds no time for it
 * (not listed yet, forgotten, restarted). */
bool topic_wait_since(const struct topic_wait *tw, const char *room_id, int64_t *since_ms);

/* Rooms the record holds (tests). */
size_t topic_wait_count(const struct topic_wait *tw);

#endif
