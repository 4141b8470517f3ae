#include "stomp/destinations.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "rooms/room_rules.h"

#define NOTIFICATIONS_QUEUE "/queue/notifications"
#define PRESENCE_QUEUE "/queue/presence"

/* Every destination the server publishes on, as an allow pattern (`**`
 * also covers user names with dots), and how messages name it. */
static const struct owned {
    const char *pattern;
    const char *name;
} owned[] = {
    {DEST_ROOM_TOPIC "**", DEST_ROOM_TOPIC "{room}"},
    {DEST_SUPPORT_QUEUE, DEST_SUPPORT_QUEUE},
    {DEST_SUPPORT_AGENTS, DEST_SUPPORT_AGENTS},
    {"/user/**" NOTIFICATIONS_QUEUE, "/user/{user}" NOTIFICATIONS_QUEUE},
    {"/user/**" PRESENCE_QUEUE, "/user/{user}" PRESENCE_QUEUE},
};
#define NOWNED (sizeof owned / sizeof *owned)

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* The kind of a canonical name (its canonical prefix, then '/'), or -1. */
static int canonical_kind(const char *d)
{
    for (int k = 0; k < PREFIX_KINDS; k++) {
        const char *c = dest_prefix_canonical(k);
        size_t n = strlen(c);
        if (strncmp(d, c, n) == 0 && d[n] == '/')
            return k;
    }
    return -1;
}

static char *replace_prefix(const char *prefix, const char *rest)
{
    size_t a = strlen(prefix), b = strlen(rest);
    char *out = malloc(a + b + 1);
    if (out) {
        memcpy(out, prefix, a);
        memcpy(out + a, rest, b + 1);
    }
    return out;
}

char *destination_canonical(const struct dest_prefixes *p, const char *client, struct dest_alias *as, bool *nomem)
{
    size_t index;
    int k = dest_prefixes_find(p, client, &index);
    *nomem = false;
    if (k < 0)
        return NULL;
    as->kind = (enum dest_prefix_kind)k;
    as->index = (unsigned)index;
    char *out = replace_prefix(dest_prefix_canonical(k), client + strlen(p->alias[k][index]));
    *nomem = !out;
    return out;
}

bool destination_client_is_canonical(const struct dest_prefixes *p, const char *canonical, unsigned index)
{
    int k = canonical_kind(canonical);
    return k < 0 || index >= p->n[k] || strcmp(p->alias[k][index], dest_prefix_canonical(k)) == 0;
}

char *destination_client(const struct dest_prefixes *p, const char *canonical, unsigned index)
{
    if (destination_client_is_canonical(p, canonical, index))
        return strdup(canonical);
    int k = canonical_kind(canonical);
    return replace_prefix(p->alias[k][index], canonical + strlen(dest_prefix_canonical(k)));
}

bool destination_server_owned(const char *d)
{
    for (size_t i = 0; i < NOWNED; i++)
        if (acl_match(owned[i].pattern, d))
            return true;
    return false;
}

/* /topic/X, /queue/X (X not empty). */
static bool is_plain_generic(const char *d)
{
    return (starts_with(d, "/topic/") && d[7]) || (starts_with(d, "/queue/") && d[7]);
}

/* /user/USER/queue/X: a SEND to every session of USER subscribed to its
 * /user/queue/X. USER is one segment. */
static bool is_user_queue(const char *d)
{
    if (!starts_with(d, "/user/"))
        return false;
    const char *name = d + 6, *q = strstr(name, "/queue/");
    return q && q > name && q[7] && !memchr(name, '/', (size_t)(q - name));
}

enum dest_route destination_route(const char *d, enum acl_action action)
{
    if (action == ACL_SEND) {
        if (starts_with(d, "/app/"))
            return DEST_APP;
        if (destination_server_owned(d))
            return DEST_SERVER_ONLY;
        return is_plain_generic(d) || is_user_queue(d) ? DEST_GENERIC : DEST_UNKNOWN;
    }
    if (starts_with(d, DEST_ROOM_TOPIC) || strcmp(d, DEST_SUPPORT_QUEUE) == 0 || strcmp(d, DEST_SUPPORT_AGENTS) == 0 ||
        strcmp(d, DEST_MY_NOTIFICATIONS) == 0 || strcmp(d, DEST_MY_PRESENCE) == 0)
        return DEST_ROOMS;
    if (is_plain_generic(d) || (starts_with(d, "/user/queue/") && d[12]))
        return DEST_GENERIC;
    return DEST_UNKNOWN;
}

char *destination_resolve(const char *d, enum acl_action action, const char *user)
{
    if (action != ACL_SUBSCRIBE || !starts_with(d, "/user/queue/"))
        return strdup(d);
    char *out = NULL;
    return asprintf(&out, "/user/%s/queue/%s", user, d + 12) < 0 ? NULL : out;
}

bool destination_room_of(const char *destination, const char *prefix, char *room, size_t len, const char **rest)
{
    size_t pl = strlen(prefix);
    if (strncmp(destination, prefix, pl) != 0)
        return false;
    const char *id = destination + pl;
    const char *slash = strchr(id, '/');
    size_t n = slash ? (size_t)(slash - id) : strlen(id);
    if (!room_valid_id(id, n) || n >= len)
        return false;
    memcpy(room, id, n);
    room[n] = '\0';
    *rest = slash ? slash + 1 : "";
    return true;
}

void destination_room_topic(char *out, size_t len, const char *room)
{
    snprintf(out, len, DEST_ROOM_TOPIC "%s", room);
}

void destination_notes_topic(char *out, size_t len, const char *room)
{
    snprintf(out, len, DEST_ROOM_TOPIC "%s" DEST_NOTES_SUFFIX, room);
}

void destination_notifications_of(char *out, size_t len, const char *user)
{
    snprintf(out, len, "/user/%s" NOTIFICATIONS_QUEUE, user);
}

void destination_presence_of(char *out, size_t len, const char *user)
{
    snprintf(out, len, "/user/%s" PRESENCE_QUEUE, user);
}

size_t destination_owned_reached(const char *pattern, char *out, size_t len)
{
    size_t n = 0, used = 0;
    if (len)
        out[0] = '\0';
    for (size_t i = 0; i < NOWNED; i++) {
        if (!acl_patterns_overlap(pattern, owned[i].pattern))
            continue;
        if (used < len) {
            int w = snprintf(out + used, len - used, "%s%s", n ? ", " : "", owned[i].name);
            used += w > 0 ? (size_t)w : 0;
        }
        n++;
    }
    return n;
}

/* The server-owned destinations a pattern reaches, as clients write them
 * under every configured prefix: "/topic/rooms/{room}, /sub/rooms/{room}". */
static size_t owned_reached_as_sent(const char *pattern, const struct dest_prefixes *p, char *out, size_t len)
{
    size_t n = 0, used = 0;
    out[0] = '\0';
    for (size_t i = 0; i < NOWNED; i++) {
        if (!acl_patterns_overlap(pattern, owned[i].pattern))
            continue;
        int k = canonical_kind(owned[i].name);
        for (size_t a = 0; a < p->n[k]; a++) {
            char *name = destination_client(p, owned[i].name, (unsigned)a);
            if (name && used < len) {
                int w = snprintf(out + used, len - used, "%s%s", n ? ", " : "", name);
                used += w > 0 ? (size_t)w : 0;
            }
            free(name);
            n++;
        }
    }
    return n;
}

void destinations_warn_acl(const struct acl *acl, const struct dest_prefixes *p, const struct config *cfg)
{
    for (size_t i = 0; i < acl->n; i++) {
        const struct acl_rule *r = &acl->rules[i];
        char reached[512], line[1024];
        if (!(r->actions & ACL_SEND) || !owned_reached_as_sent(r->pattern, p, reached, sizeof reached))
            continue;
        config_errorf(line, sizeof line, cfg, "stomp", r->key,
                      "send matches destinations only the server publishes on (%s): a client's SEND there is "
                      "refused whatever this rule says",
                      reached);
        log_warn("%s", line);
    }
}
