/* The supervisor's view of the support desk over REST:
 * GET /api/support/overview, every support room waiting or assigned and
 * every agent with their status and load, gathered from rooms/support.h
 * and rooms/availability.h. docs/rest-api.md, docs/support-desk.md
 * ("Supervisors"). */
#ifndef CHATD_SUPPORT_OVERVIEW_REST_H
#define CHATD_SUPPORT_OVERVIEW_REST_H

struct rest_call;

/* Answers the call itself: 200 with {"queue", "assigned", "agents",
 * "max_chats_per_agent"}, 403 for anyone but a supervisor. */
void support_overview_rest(struct rest_call *c);

#endif
