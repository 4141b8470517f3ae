/* Which generic destinations a role may send to or subscribe to:
 * `[stomp] allow.NAME = ACTIONS PATTERN ROLES`, for example
 *
 *   allow.chat = send,subscribe /topic/chat.* user,agent
 *   allow.jobs = subscribe      /queue/jobs.** agent
 *
 * ACTIONS: send, subscribe (comma-separated). ROLES: user, agent.
 * PATTERN: `*` matches within one segment (no '/' or '.'), `**` matches
 * anything, other characters match themselves. Nothing is allowed unless
 * a rule allows it. */
#ifndef CHATD_ACL_H
#define CHATD_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct config_section;

enum acl_action { ACL_SEND = 1, ACL_SUBSCRIBE = 2 };

struct acl_rule {
    unsigned actions;
    uint32_t roles;
    char *pattern;
    char *key;      /* allow.NAME, for messages about the rule */
};

struct acl {
    struct acl_rule *rules;
    size_t n;
};

/* Read every allow.* key of sec (NULL ok). 0, or -1 with one line in err. */
int acl_load(struct acl *acl, const struct config *cfg, struct config_section *sec, char *err,
             size_t errlen);
void acl_free(struct acl *acl);
bool acl_allows(const struct acl *acl, enum acl_action action, const char *destination, uint32_t roles);
bool acl_match(const char *pattern, const char *destination);
/* Whether some destination matches both patterns. */
bool acl_patterns_overlap(const char *a, const char *b);

#endif
