#include "dest_prefixes.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

static const char *const canonical[PREFIX_KINDS] = {"/app", "/topic", "/queue", "/user"};
static const char *const keys[PREFIX_KINDS] = {"application_prefix", "topic_prefix", "queue_prefix", "user_prefix"};

const char *dest_prefix_canonical(enum dest_prefix_kind kind)
{
    return canonical[kind];
}

const char *dest_prefix_key(enum dest_prefix_kind kind)
{
    return keys[kind];
}

void dest_prefixes_clear(struct dest_prefixes *p, enum dest_prefix_kind kind)
{
    p->n[kind] = 0;
}

void dest_prefixes_default(struct dest_prefixes *p)
{
    memset(p, 0, sizeof *p);
    for (int k = 0; k < PREFIX_KINDS; k++) {
        snprintf(p->alias[k][0], sizeof p->alias[k][0], "%s", canonical[k]);
        p->n[k] = 1;
    }
}

static bool segment_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
           c == '.' || c == '~';
}

static const char *shape_error(const char *v)
{
    size_t n = strlen(v);
    if (v[0] != '/')
        return "must start with '/'";
    if (n == 1 || v[n - 1] == '/')
        return "must not end with '/'";
    if (n > PREFIX_LEN_MAX)
        return "is longer than 64 bytes";
    if (strchr(v, '*'))
        return "must not hold wildcards ('*'): a prefix is a fixed path";
    if (strstr(v, "//"))
        return "has an empty segment ('//')";
    for (const char *c = v; *c; c++)
        if (*c != '/' && !segment_char(*c))
            return "may hold only letters, digits, '-', '_', '.', '~' and '/' between segments";
    return NULL;
}

/* a begins b as whole segments: equal, or b = a + "/..." */
static bool leads(const char *a, const char *b)
{
    size_t n = strlen(a);
    return strncmp(a, b, n) == 0 && (b[n] == '\0' || b[n] == '/');
}

int dest_prefixes_add(struct dest_prefixes *p, enum dest_prefix_kind kind, const char *prefix, char *why,
                      size_t whylen)
{
    const char *bad = shape_error(prefix);
    if (bad) {
        snprintf(why, whylen, "'%s' %s", prefix, bad);
        return -1;
    }
    for (int k = 0; k < PREFIX_KINDS; k++) {
        for (size_t i = 0; i < p->n[k]; i++) {
            const char *other = p->alias[k][i];
            if (strcmp(other, prefix) == 0) {
                if (k == (int)kind)
                    snprintf(why, whylen, "'%s' is listed twice", prefix);
                else
                    snprintf(why, whylen, "'%s' is also in %s: a prefix names one kind of destination", prefix,
                             keys[k]);
                return -1;
            }
            if (leads(other, prefix) || leads(prefix, other)) {
                snprintf(why, whylen, "'%s' and '%s' (%s) overlap: a destination under both would have two meanings",
                         prefix, other, keys[k]);
                return -1;
            }
        }
    }
    if (p->n[kind] == PREFIX_ALIASES_MAX) {
        snprintf(why, whylen, "at most %d prefixes", PREFIX_ALIASES_MAX);
        return -1;
    }
    snprintf(p->alias[kind][p->n[kind]++], PREFIX_LEN_MAX + 1, "%s", prefix);
    return 0;
}

int dest_prefixes_find(const struct dest_prefixes *p, const char *destination, size_t *index)
{
    for (int k = 0; k < PREFIX_KINDS; k++) {
        for (size_t i = 0; i < p->n[k]; i++) {
            const char *a = p->alias[k][i];
            size_t n = strlen(a);
            if (strncmp(a, destination, n) == 0 && destination[n] == '/') {
                *index = i;
                return k;
            }
        }
    }
    return -1;
}
