/* One agent as the desk's REST views show them (GET /api/agents, GET
 * /api/support/overview): user, status, open_chats and the skills
 * [support] skills gives them. docs/rest-api.md. */
#ifndef CHATD_AGENT_JSON_H
#define CHATD_AGENT_JSON_H

#include <jansson.h>

struct agent_view;
struct support_skills;

/* A new object, or NULL out of memory. skills may be NULL (none). */
json_t *agent_json(const struct agent_view *a, const struct support_skills *skills);

#endif
