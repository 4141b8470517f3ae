#include "stomp/acl.h"

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

/* The pattern element at p: `**` (any run), `*` (a run within one
 * segment) or one literal character; its length in *len. */
enum pattern_elem { ELEM_CHAR, ELEM_SEGMENT, ELEM_ANY };

static enum pattern_elem pattern_elem(const char *p, size_t *len)
{
    *len = p[0] == '*' && p[1] == '*' ? 2 : 1;
    return *len == 2 ? ELEM_ANY : p[0] == '*' ? ELEM_SEGMENT : ELEM_CHAR;
}

static bool elem_takes(enum pattern_elem e, char c)
{
    return e == ELEM_ANY || !is_separator(c);
}

struct overlap_walk {
    bool *seen;    /* (la + 1) * (lb + 1) states: a position in each pattern */
    size_t *stack;
    size_t top, width;
};

static void walk_push(struct overlap_walk *w, size_t i, size_t j)
{
    size_t st = i * w->width + j;
    if (!w->seen[st]) {
        w->seen[st] = true;
        w->stack[w->top++] = st;
    }
}

/* Both patterns read as automata, walked in step: a state is a position
 * in each; a wildcard may be left (it matched enough) or take the
 * character the other side's literal offers. Some destination matches
 * both when both ends are reached together. Two wildcards facing each
 * other take a character both accept (any letter) and stay put, which
 * leads nowhere new. Time and memory: the product of the lengths. */
bool acl_patterns_overlap(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), nstates = (la + 1) * (lb + 1);
    struct overlap_walk w = {.seen = calloc(nstates, sizeof *w.seen), .stack = malloc(nstates * sizeof *w.stack),
                             .width = lb + 1};
    bool found = false;
    if (w.seen && w.stack)
        walk_push(&w, 0, 0);
    while (w.top && !found) {
        size_t st = w.stack[--w.top], i = st / w.width, j = st % w.width;
        found = i == la && j == lb;
        size_t na = 0, nb = 0;
        enum pattern_elem ea = i < la ? pattern_elem(a + i, &na) : ELEM_CHAR;
        enum pattern_elem eb = j < lb ? pattern_elem(b + j, &nb) : ELEM_CHAR;
        if (i < la && ea != ELEM_CHAR)
            walk_push(&w, i + na, j);
        if (j < lb && eb != ELEM_CHAR)
            walk_push(&w, i, j + nb);
        if (i == la || j == lb)
            continue;
        if (ea == ELEM_CHAR && eb == ELEM_CHAR && a[i] == b[j])
            walk_push(&w, i + 1, j + 1);
        else if (ea == ELEM_CHAR && eb != ELEM_CHAR && elem_takes(eb, a[i]))
            walk_push(&w, i + 1, j);
        else if (ea != ELEM_CHAR && eb == ELEM_CHAR && elem_takes(ea, b[j]))
            walk_push(&w, i, j + 1);
    }
    free(w.seen);
    free(w.stack);
    return found;
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
        rule.key = strdup(e->key);
        free(copy);
        struct acl_rule *v = realloc(acl->rules, (acl->n + 1) * sizeof *v);
        if (v)
            acl->rules = v;
        if (!v || !rule.pattern || !rule.key) {
            free(rule.pattern);
            free(rule.key);
            config_errorf(err, errlen, cfg, sec->name, e->key, "out of memory");
            return -1;
        }
        acl->rules[acl->n++] = rule;
    }
    return 0;
}

void acl_free(struct acl *acl)
{
    for (size_t i = 0; i < acl->n; i++) {
        free(acl->rules[i].pattern);
        free(acl->rules[i].key);
    }
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
