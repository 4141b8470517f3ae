#include "acl.h"

#include <stdlib.h>
#include <string.h>

#include <chatd/plugin.h>

#include "config.h"

static bool is_separator(char c)
{
    return c == '/' || c == '.';
}

bool acl_match(const char *p, const char *d)
{
    while (*p) {
        if (p[0] == '*' && p[1] == '*') {
            p += 2;
            if (!*p)
                return true;
            for (; *d; d++)
                if (acl_match(p, d))
                    return true;
            return acl_match(p, d);
        }
        if (*p == '*') {
            p++;
            /* Within one segment: try every split up to the next separator. */
            for (;; d++) {
                if (acl_match(p, d))
                    return true;
                if (!*d || is_separator(*d))
                    return false;
            }
        }
        if (*p != *d)
            return false;
        p++;
        d++;
    }
    return *d == '\0';
}

static int parse_list(const char *s, size_t n, const char *const *names, const unsigned *bits,
                      size_t nnames, unsigned *out)
{
    *out = 0;
    while (n) {
        size_t len = 0;
        while (len < n && s[len] != ',')
            len++;
        size_t i;
        for (i = 0; i < nnames; i++)
            if (strlen(names[i]) == len && strncmp(names[i], s, len) == 0)
                break;
        if (i == nnames)
            return -1;
        *out |= bits[i];
        s += len;
        n -= len;
        if (n) {
            s++;
            n--;
        }
    }
    return *out ? 0 : -1;
}

int acl_load(struct acl *acl, const struct config *cfg, struct config_section *sec, char *err, size_t errlen)
{
    acl->rules = NULL;
    acl->n = 0;
    for (size_t i = 0; sec && i < sec->nentries; i++) {
        struct config_entry *e = &sec->entries[i];
        if (strncmp(e->key, "allow.", 6) != 0 || !e->key[6])
            continue;
        e->used = true;
        char *copy = strdup(e->value);
        char *save = NULL;
        char *actions = copy ? strtok_r(copy, " \t", &save) : NULL;
        char *pattern = actions ? strtok_r(NULL, " \t", &save) : NULL;
        char *roles = pattern ? strtok_r(NULL, " \t", &save) : NULL;
        char *extra = roles ? strtok_r(NULL, " \t", &save) : NULL;
        static const char *const action_names[] = {"send", "subscribe"};
        static const unsigned action_bits[] = {ACL_SEND, ACL_SUBSCRIBE};
        static const char *const role_names[] = {"user", "agent"};
        static const unsigned role_bits[] = {CHATD_ROLE_USER, CHATD_ROLE_AGENT};
        struct acl_rule rule = {0};
        unsigned r = 0;
        if (!roles || extra || parse_list(actions, strlen(actions), action_names, action_bits, 2, &rule.actions) < 0 ||
            parse_list(roles, strlen(roles), role_names, role_bits, 2, &r) < 0 || pattern[0] != '/') {
            config_errorf(err, errlen, cfg, sec->name, e->key,
                          "expected 'ACTIONS PATTERN ROLES', e.g. 'send,subscribe /topic/chat.* user,agent'");
            free(copy);
            return -1;
        }
        rule.roles = r;
        rule.pattern = strdup(pattern);
        free(copy);
        struct acl_rule *v = realloc(acl->rules, (acl->n + 1) * sizeof *v);
        if (!v || !rule.pattern) {
            free(rule.pattern);
            config_errorf(err, errlen, cfg, sec->name, e->key, "out of memory");
            return -1;
        }
        acl->rules = v;
        acl->rules[acl->n++] = rule;
    }
    return 0;
}

void acl_free(struct acl *acl)
{
    for (size_t i = 0; i < acl->n; i++)
        free(acl->rules[i].pattern);
    free(acl->rules);
    acl->rules = NULL;
    acl->n = 0;
}

bool acl_allows(const struct acl *acl, enum acl_action action, const char *destination, uint32_t roles)
{
    for (size_t i = 0; i < acl->n; i++) {
        const struct acl_rule *r = &acl->rules[i];
        if ((r->actions & action) && (r->roles & roles) && acl_match(r->pattern, destination))
            return true;
    }
    return false;
}
