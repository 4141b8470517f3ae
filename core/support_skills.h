/* Topics of support rooms and skills of agents (docs/support-desk.md,
 * "Topics and skills"): plain rules, no I/O. A customer opens a room with a
 * topic ("billing"); [support] skills names the topics each agent takes;
 * the routing gives a room with a topic only to an agent with that skill,
 * unless no agent has it. The settings, the routing, the adapters, the
 * unit tests and a fuzz target share these. */
#ifndef CHATD_SUPPORT_SKILLS_H
#define CHATD_SUPPORT_SKILLS_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

#define SUPPORT_TOPIC_MAX CHATD_TOPIC_MAX
/* Bounds of [support] skills. */
#define SUPPORT_SKILLS_AGENTS_MAX 10000
#define SUPPORT_SKILLS_PER_AGENT_MAX 64

/* Whether s[0..len) is a topic: 1 to SUPPORT_TOPIC_MAX bytes, each a-z,
 * 0-9, '-' or '_'. Else false with the reason in *why (a sentence). */
bool support_topic_valid(const char *s, size_t len, const char **why);

/* One agent's skills. */
struct agent_skills {
    char *agent;
    char **topics;
    size_t ntopics;
};

/* [support] skills as parsed: agents in the order written. */
struct support_skills {
    struct agent_skills *v;
    size_t n;
};

/* Parses "AGENT:TOPIC,TOPIC; AGENT:TOPIC" (white space around names is
 * ignored, an empty entry between two ';' too; "" is no skills). 0, or -1
 * with why naming the entry at fault, and out left empty: an agent with no
 * topic, an agent named twice, a topic twice for one agent, a topic that is
 * none (support_topic_valid), an agent name with white space, ',' or ':' in
 * it or longer than 255 bytes, more than the bounds above. */
int support_skills_parse(const char *text, struct support_skills *out, char *why, size_t whylen);
void support_skills_free(struct support_skills *s);

/* The skills of agent (NULL with *n = 0 when none). */
const char *const *support_skills_of(const struct support_skills *s, const char *agent, size_t *n);
/* Whether agent has the skill topic. */
bool support_skills_has(const struct support_skills *s, const char *agent, const char *topic);
/* The skills of agent, NULL for none: valid until s changes (a reload). */
const struct agent_skills *support_skills_find(const struct support_skills *s, const char *agent);
/* Whether a (may be NULL: no skills) has the skill topic. */
bool support_agent_has(const struct agent_skills *a, const char *topic);
/* Whether some agent has the skill topic. */
bool support_skills_known(const struct support_skills *s, const char *topic);
/* Whether the routing may give a room of topic (NULL or "" = none) to
 * agent: a room without a topic, or whose topic no agent has, goes to
 * anyone; else only to an agent with that skill. */
bool support_skills_match(const struct support_skills *s, const char *agent, const char *topic);

#endif
