/* CIDR ranges: parsing and membership. */
#include "cidr.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static const unsigned char V4_MAPPED[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool cidr_addr_parse(const char *text, unsigned char a[16], int *family)
{
    memset(a, 0, 16);
    if (inet_pton(AF_INET, text, a) == 1) {
        *family = AF_INET;
        return true;
    }
    unsigned char v6[16];
    if (inet_pton(AF_INET6, text, v6) != 1)
        return false;
    if (memcmp(v6, V4_MAPPED, 12) == 0) {
        memcpy(a, v6 + 12, 4);
        *family = AF_INET;
    } else {
        memcpy(a, v6, 16);
        *family = AF_INET6;
    }
    return true;
}

/* Zeroes the bits after the first `bits`. */
static void mask(unsigned char a[16], unsigned bits)
{
    for (unsigned i = 0; i < 16; i++) {
        unsigned keep = bits >= 8 * (i + 1) ? 8 : bits > 8 * i ? bits - 8 * i : 0;
        a[i] &= (unsigned char)(0xff00u >> keep);
    }
}

static bool parse_one(const char *entry, struct cidr *c, char *why, size_t whylen)
{
    char text[64];
    size_t len = strlen(entry);
    if (len >= sizeof text) {
        snprintf(why, whylen, "'%.40s...' is not an address or an address/bits range", entry);
        return false;
    }
    memcpy(text, entry, len + 1);
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    if (!cidr_addr_parse(text, c->addr, &c->family)) {
        snprintf(why, whylen, "'%s' is not an address or an address/bits range", entry);
        return false;
    }
    /* ::ffff:10.0.0.0/104 names IPv4's 10.0.0.0/8. */
    bool mapped = c->family == AF_INET && strchr(text, ':');
    unsigned max = c->family == AF_INET && !mapped ? 32 : 128;
    c->bits = c->family == AF_INET ? 32 : 128;
    if (slash) {
        char *end;
        unsigned long b = strtoul(slash + 1, &end, 10);
        if (end == slash + 1 || *end || b > max) {
            snprintf(why, whylen, "'%s': the bits after '/' must be 0 to %u", entry, max);
            return false;
        }
        if (mapped && b < 96) {
            snprintf(why, whylen, "'%s': an IPv4-mapped range needs at least 96 bits", entry);
            return false;
        }
        c->bits = (unsigned)(mapped ? b - 96 : b);
    }
    mask(c->addr, c->bits);
    return true;
}

int cidr_list_parse(const char *text, struct cidr_list *out, char *why, size_t whylen)
{
    out->v = NULL;
    out->n = 0;
    const char *p = text;
    for (;;) {
        p += strspn(p, ", \t");
        if (!*p)
            return 0;
        size_t len = strcspn(p, ", \t");
        char entry[80];
        snprintf(entry, sizeof entry, "%.*s", (int)(len < sizeof entry - 1 ? len : sizeof entry - 1), p);
        struct cidr c;
        struct cidr *v = realloc(out->v, (out->n + 1) * sizeof *v);
        if (!v) {
            snprintf(why, whylen, "out of memory");
            cidr_list_free(out);
            return -1;
        }
        out->v = v;
        if (len >= sizeof entry - 1 || !parse_one(entry, &c, why, whylen)) {
            if (len >= sizeof entry - 1)
                snprintf(why, whylen, "'%.40s...' is not an address or an address/bits range", entry);
            cidr_list_free(out);
            return -1;
        }
        out->v[out->n++] = c;
        p += len;
    }
}

void cidr_list_free(struct cidr_list *l)
{
    free(l->v);
    l->v = NULL;
    l->n = 0;
}

bool cidr_list_equal(const struct cidr_list *a, const struct cidr_list *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (a->v[i].family != b->v[i].family || a->v[i].bits != b->v[i].bits ||
            memcmp(a->v[i].addr, b->v[i].addr, 16) != 0)
            return false;
    return true;
}

bool cidr_list_has(const struct cidr_list *l, const unsigned char a[16], int family)
{
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].family != family)
            continue;
        unsigned char m[16];
        memcpy(m, a, 16);
        mask(m, l->v[i].bits);
        if (memcmp(m, l->v[i].addr, 16) == 0)
            return true;
    }
    return false;
}
