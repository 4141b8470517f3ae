/* Agent availability (docs/support-desk.md): an agent is online, away by
 * their own choice, or offline when no session of theirs is connected on
 * any instance. Presence keeps who is connected and who is away, across
 * instances; this file answers what the support desk asks of it: every
 * agent with their status and open assigned chats, and an agent's choice. */
#ifndef CHATD_AVAILABILITY_H
#define CHATD_AVAILABILITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

enum agent_status { AGENT_OFFLINE = 0, AGENT_AWAY, AGENT_ONLINE };

/* "offline", "away", "online". */
const char *agent_status_name(enum agent_status s);
/* The status presence says, for one agent. */
enum agent_status agent_status_of(const struct rooms *r, const char *agent);

/* One agent as the desk sees them. */
struct agent_view {
    const char *name;
    enum agent_status status;
    size_t open; /* support rooms assigned to them and not completed or closed */
};

/* Every agent heard of, sorted by name; limit = [support] max_chats_per_agent
 * (0 = unlimited). The array is valid during the call. */
typedef void (*agents_answer_cb)(void *ctx, const struct room_answer *a, const struct agent_view *agents, size_t n,
                                 size_t limit);

/* FORBIDDEN unless roles has CHATD_ROLE_AGENT, _SUPERVISOR or _ADMIN. */
void agents_list(struct rooms *r, uint32_t roles, agents_answer_cb cb, void *ctx);
/* The agent's choice, "away" or "online": OK; BAD_REQUEST for another
 * word; FORBIDDEN for a non-agent. Answers before returning. */
void agents_set_status(struct rooms *r, const char *agent, uint32_t roles, const char *status, done_answer_cb cb,
                       void *ctx);

/* What agent_status events were told: availability_changed compares every
 * agent's status with it and tells the differences. */
struct availability *availability_new(void);
void availability_free(struct availability *av);
/* Presence says something changed about agents. */
void availability_changed(struct rooms *r);

/* The agents and their loads, as agents_list gathers them, for the routing:
 * cb gets the storage's answer and the views. */
void agents_gather(struct rooms *r, agents_answer_cb cb, void *ctx);

#endif
