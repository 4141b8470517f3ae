/* A support room's life: a customer opens it, it waits in the unassigned
 * queue, one agent claims it (the storage picks the one winner across
 * instances), the agent completes it or the customer closes it (a
 * read-only transcript). docs/rest-api.md, "Support rooms". */
#ifndef CHATD_SUPPORT_H
#define CHATD_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

/* The storage's unique key of a customer's one open support room. */
void support_unique_key(char *out, size_t len, const char *customer);
/* The customer's open support room: OK with a new one, EXISTS with the one
 * open already (its topic as it was opened). topic (NULL: none) routes it
 * to the agents with that skill: BAD_REQUEST, before anything is stored,
 * when it is no topic (rooms/support_skills.h). */
void support_open(struct rooms *r, const char *customer, const char *topic, room_answer_cb cb, void *ctx);
/* The unassigned queue, or (assigned) the rooms assigned to `agent`:
 * FORBIDDEN unless roles has CHATD_ROLE_AGENT or CHATD_ROLE_SUPERVISOR. */
void support_queue(struct rooms *r, const char *agent, uint32_t roles, bool assigned, rooms_answer_cb cb, void *ctx);
/* A supervisor's view: every support room waiting in the queue (OPEN), or
 * assigned to any agent (ASSIGNED), oldest first, at most 500:
 * FORBIDDEN unless roles has CHATD_ROLE_SUPERVISOR. */
void support_rooms_in(struct rooms *r, uint32_t roles, chatd_room_state in, rooms_answer_cb cb, void *ctx);
/* An agent takes an unassigned room: OK with the room now assigned to them;
 * CONFLICT when someone else was first or the room is closed; FORBIDDEN for
 * a non-agent; BAD_REQUEST for a room that is no support room. */
void support_claim(struct rooms *r, const char *room_id, const char *agent, uint32_t roles, room_answer_cb cb,
                   void *ctx);
/* The assigned agent finishes: OK with the room, read-only now; CONFLICT
 * when it is not assigned to them or closed; FORBIDDEN for others. */
void support_complete(struct rooms *r, const char *room_id, const char *agent, uint32_t roles, room_answer_cb cb,
                      void *ctx);
/* The customer closes their support room (found by membership_leave):
 * CLOSED_KEPT, or CLOSED_DELETED with a storage without transcripts;
 * CONFLICT when closed already. */
void support_close(struct rooms *r, const char *room_id, const char *customer, leave_answer_cb cb, void *ctx);

#endif
