/* Automatic assignment of support rooms ([support] assign = round_robin |
 * least_busy; docs/support-desk.md). A pass lists the unassigned queue,
 * oldest first, and gives each room to an available agent (online, under
 * [support] max_chats_per_agent) with the storage's room_claim_limited
 * (SDK 2.3; room_claim with an older plugin), which decides the one winner
 * per room across instances, as manual claims, and refuses an agent at
 * the limit in the same atomic step. A room with a topic goes only to an
 * agent with that skill ([support] skills), unless no agent has it; one
 * that nobody with the skill can take now waits without holding up the
 * rooms behind it, for ever or, with [support] topic_wait, until it has
 * waited that long in the queue (rooms/topic_wait.h; the time of entry
 * from the customer's first-response wait where it is kept): then, with no
 * skilled agent free, any available agent takes it.
 * Passes run on triggers (a room opened, completed or closed, an agent
 * connected, gone, away or back) and on a one-second sweep, only on the
 * instance the routing's leader test names, so instances do not race one
 * another for the same rooms and agents. A trigger on an instance that
 * does not route asks the one that does for a pass (routing_on_elsewhere),
 * so a room opened there waits for no sweep. */
#ifndef CHATD_ROUTING_H
#define CHATD_ROUTING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/availability.h"
#include "rooms/rooms.h"
#include "settings.h"

struct event_base;

/* The agent the next room goes to: an index into agents, or -1 when no
 * agent is online, under max_open (0 = unlimited) and eligible (NULL:
 * every one; else eligible[i] for agents[i]: the room's topic lets them in,
 * rooms/support_skills.h). round_robin: the first available agent after
 * `last` in the array's order (sorted by name), wrapping; least_busy: the
 * fewest open chats, ties to the first in order after `last`. last may be
 * NULL. manual: -1. */
long routing_pick(enum support_assign mode, const struct agent_view *agents, size_t n, size_t max_open,
                  const char *last, const bool *eligible);

/* The agent a room goes to: routing_pick among the eligible (the room's
 * skilled agents); when none of them is available and open_to_all (its
 * topic_wait is over), routing_pick among every agent. So a skilled agent
 * available in the same pass still gets it first. */
long routing_pick_room(enum support_assign mode, const struct agent_view *agents, size_t n, size_t max_open,
                       const char *last, const bool *eligible, bool open_to_all);

/* is_leader (may be NULL: always) says whether this instance routes. In
 * manual mode the routing is idle until routing_set_mode. */
struct routing *routing_new(struct rooms *r, struct event_base *base, enum support_assign mode,
                            bool (*is_leader)(const void *ctx), const void *leader_ctx);
/* A reload changed [support] assign: manual stops the passes (one under
 * way ends without another claim), round_robin or least_busy (re)starts
 * them. */
void routing_set_mode(struct routing *rt, enum support_assign mode);
/* Shutting down, before the storage's last answers run: answers still to
 * come end the pass without another operation, and no pass starts. */
void routing_close(struct routing *rt);
/* After the storage plugin went. */
void routing_free(struct routing *rt);
/* Something changed here (a room opened, completed, handed back or
 * reopened on this instance): a pass at the end of this loop turn (one
 * pass for any number of kicks; a kick during a pass runs another after
 * it), or, where this instance does not route, ask(ctx) of
 * routing_on_elsewhere. */
void routing_kick(struct routing *rt);
/* The room went back to the queue here (a transfer to nobody, a reopen
 * without its agent): its wait for [support] topic_wait starts again at
 * the next pass, also when no pass saw it leave the queue. */
void routing_requeued(struct routing *rt, const char *room_id);
/* When the room entered the queue for the last time (opened, sent back by
 * a transfer, reopened), as [support] topic_wait counts it: the start of
 * its customer's first-response wait where r keeps one (shared by the
 * instances), else the first pass of r's routing that listed it since it
 * entered, else fallback_ms (its opening). The assignment waits (the
 * histograms of /metrics, the queue estimate) count from it. */
int64_t routing_queued_since(const struct rooms *r, const char *room_id, int64_t fallback_ms);
/* How a kick on an instance that does not route reaches the one that
 * does (the presence channel: it calls routing_heard there). */
void routing_on_elsewhere(struct routing *rt, void (*ask)(void *ctx), void *ctx);
/* Something changed that every instance hears of (agents came, went, went
 * away or back), or another instance asked: a pass here if this instance
 * routes; never asks on. */
void routing_heard(struct routing *rt);
/* Passes run so far, rooms assigned so far (tests, metrics). */
size_t routing_passes(const struct routing *rt);
size_t routing_assigned(const struct routing *rt);
/* Whether a pass is under way or due. */
bool routing_busy(const struct routing *rt);

#endif
