#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void config_errorf(char *err, size_t errlen, const struct config *c, const char *section,
                   const char *key, const char *fmt, ...)
{
    if (!err || !errlen)
        return;
    int n = snprintf(err, errlen, "%s: ", c && c->path ? c->path : "config");
    if (n < 0 || (size_t)n >= errlen)
        return;
    if (section)
        n += snprintf(err + n, errlen - (size_t)n, "[%s] ", section);
    if ((size_t)n < errlen && key)
        n += snprintf(err + n, errlen - (size_t)n, "%s: ", key);
    if ((size_t)n >= errlen)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + n, errlen - (size_t)n, fmt, ap);
    va_end(ap);
}

void config_free(struct config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nsections; i++) {
        struct config_section *s = &c->sections[i];
        for (size_t j = 0; j < s->nentries; j++) {
            free(s->entries[j].key);
            free(s->entries[j].value);
        }
        free(s->entries);
        strmap_free(&s->index);
        free(s->name);
    }
    free(c->sections);
    free(c->path);
    free(c);
}

struct config_section *config_find(const struct config *c, const char *section)
{
    for (size_t i = 0; c && i < c->nsections; i++)
        if (strcmp(c->sections[i].name, section) == 0)
            return &c->sections[i];
    return NULL;
}

struct config_entry *config_entry_find(const struct config_section *s, const char *key)
{
    uintptr_t at = s ? (uintptr_t)strmap_get(&s->index, key) : 0;
    return at ? &s->entries[at - 1] : NULL;
}

const char *config_get(struct config_section *s, const char *key)
{
    struct config_entry *e = config_entry_find(s, key);
    if (!e)
        return NULL;
    e->used = true;
    return e->value;
}

const char *config_first_unused(const struct config_section *s)
{
    for (size_t i = 0; s && i < s->nentries; i++)
        if (!s->entries[i].used)
            return s->entries[i].key;
    return NULL;
}

/* ----------------------------------------------------------------- parser */

struct text_buf {
    char *data;
    size_t len, cap;
};

static int tb_append(struct text_buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 64;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d)
            return -1;
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

/* Expand ${VAR}, ${VAR:-default} and $$ in v[0..n). NULL with err set. */
static char *expand(const struct config *c, const char *section, const char *key, const char *v,
                    size_t n, char *err, size_t errlen)
{
    struct text_buf b = {0};
    if (tb_append(&b, "", 0) < 0)
        goto oom;
    for (size_t i = 0; i < n;) {
        if (v[i] != '$' || i + 1 >= n || (v[i + 1] != '$' && v[i + 1] != '{')) {
            size_t j = i + 1;
            while (j < n && v[j] != '$')
                j++;
            if (tb_append(&b, v + i, j - i) < 0)
                goto oom;
            i = j;
        } else if (v[i + 1] == '$') {
            if (tb_append(&b, "$", 1) < 0)
                goto oom;
            i += 2;
        } else {
            const char *close = memchr(v + i + 2, '}', n - i - 2);
            if (!close) {
                config_errorf(err, errlen, c, section, key, "unterminated ${ in value");
                goto fail;
            }
            size_t inner = (size_t)(close - (v + i + 2));
            char name[256];
            const char *dflt = NULL;
            size_t dflt_len = 0;
            const char *sep = NULL;
            for (size_t k = 0; k + 1 < inner; k++)
                if (v[i + 2 + k] == ':' && v[i + 3 + k] == '-') {
                    sep = v + i + 2 + k;
                    break;
                }
            size_t name_len = sep ? (size_t)(sep - (v + i + 2)) : inner;
            if (sep) {
                dflt = sep + 2;
                dflt_len = (size_t)(close - dflt);
            }
            if (name_len == 0 || name_len >= sizeof name) {
                config_errorf(err, errlen, c, section, key, "bad variable name in ${...}");
                goto fail;
            }
            memcpy(name, v + i + 2, name_len);
            name[name_len] = '\0';
            const char *env = getenv(name);
            if (env && *env) {
                if (tb_append(&b, env, strlen(env)) < 0)
                    goto oom;
            } else if (dflt) {
                if (tb_append(&b, dflt, dflt_len) < 0)
                    goto oom;
            } else {
                config_errorf(err, errlen, c, section, key,
                              "environment variable %s is not set (use ${%s:-default} for a fallback)",
                              name, name);
                goto fail;
            }
            i = (size_t)(close - v) + 1;
        }
        if (b.len > CONFIG_MAX_VALUE) {
            config_errorf(err, errlen, c, section, key, "value longer than %d bytes", CONFIG_MAX_VALUE);
            goto fail;
        }
    }
    return b.data;
oom:
    config_errorf(err, errlen, c, section, key, "out of memory");
fail:
    free(b.data);
    return NULL;
}

static const char *trim(const char *s, const char *end, const char **out_end)
{
    while (s < end && isspace((unsigned char)*s))
        s++;
    while (end > s && isspace((unsigned char)end[-1]))
        end--;
    *out_end = end;
    return s;
}

static int parse_line(struct config *c, const char *line, const char *end, int lineno, char *err,
                      size_t errlen)
{
    const char *e;
    const char *s = trim(line, end, &e);
    if (s == e || *s == ';' || *s == '#')
        return 0;
    struct config_section *cur = c->nsections ? &c->sections[c->nsections - 1] : NULL;
    if (*s == '[') {
        const char *close = memchr(s, ']', (size_t)(e - s));
        const char *ne;
        const char *name = close ? trim(s + 1, close, &ne) : NULL;
        const char *rest_end;
        const char *rest = close ? trim(close + 1, e, &rest_end) : NULL;
        if (!close || name == ne || (rest != rest_end && *rest != ';' && *rest != '#')) {
            config_errorf(err, errlen, c, NULL, NULL, "line %d: expected [section]", lineno);
            return -1;
        }
        char *sname = strndup(name, (size_t)(ne - name));
        if (!sname)
            goto oom;
        if (config_find(c, sname)) {
            config_errorf(err, errlen, c, sname, NULL, "line %d: section appears twice", lineno);
            free(sname);
            return -1;
        }
        if (c->nsections == CONFIG_MAX_SECTIONS) {
            config_errorf(err, errlen, c, NULL, NULL, "line %d: more than %d sections", lineno,
                          CONFIG_MAX_SECTIONS);
            free(sname);
            return -1;
        }
        struct config_section *v = realloc(c->sections, (c->nsections + 1) * sizeof *v);
        if (!v) {
            free(sname);
            goto oom;
        }
        c->sections = v;
        c->sections[c->nsections++] = (struct config_section){.name = sname, .line = lineno};
        return 0;
    }
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (!eq) {
        config_errorf(err, errlen, c, cur ? cur->name : NULL, NULL, "line %d: expected key = value",
                      lineno);
        return -1;
    }
    const char *ke;
    const char *k = trim(s, eq, &ke);
    if (k == ke) {
        config_errorf(err, errlen, c, cur ? cur->name : NULL, NULL, "line %d: empty key", lineno);
        return -1;
    }
    char *key = strndup(k, (size_t)(ke - k));
    if (!key)
        goto oom;
    if (!cur) {
        config_errorf(err, errlen, c, NULL, key, "line %d: key outside any [section]", lineno);
        free(key);
        return -1;
    }
    if (config_entry_find(cur, key)) {
        config_errorf(err, errlen, c, cur->name, key, "line %d: key given twice", lineno);
        free(key);
        return -1;
    }
    if (cur->nentries == CONFIG_MAX_KEYS) {
        config_errorf(err, errlen, c, cur->name, key, "line %d: more than %d keys in the section",
                      lineno, CONFIG_MAX_KEYS);
        free(key);
        return -1;
    }
    /* An inline comment starts at ';' or '#' preceded by whitespace. */
    const char *v = eq + 1;
    const char *vend = e;
    for (const char *p = v; p < e; p++)
        if ((*p == ';' || *p == '#') && p > v && isspace((unsigned char)p[-1])) {
            vend = p;
            break;
        }
    const char *ve;
    v = trim(v, vend, &ve);
    char *value = expand(c, cur->name, key, v, (size_t)(ve - v), err, errlen);
    if (!value) {
        free(key);
        return -1;
    }
    if (cur->nentries == cur->capentries) {
        size_t cap = cur->capentries ? 2 * cur->capentries : 16;
        struct config_entry *entries = realloc(cur->entries, cap * sizeof *entries);
        if (!entries) {
            free(key);
            free(value);
            goto oom;
        }
        cur->entries = entries;
        cur->capentries = cap;
    }
    if (strmap_put(&cur->index, key, (void *)(uintptr_t)(cur->nentries + 1)) != 0) {
        free(key);
        free(value);
        goto oom;
    }
    cur->entries[cur->nentries++] = (struct config_entry){key, value, lineno, false};
    return 0;
oom:
    config_errorf(err, errlen, c, NULL, NULL, "out of memory");
    return -1;
}

int config_load_string(struct config **out, const char *name, const char *text, char *err,
                       size_t errlen)
{
    *out = NULL;
    struct config *c = calloc(1, sizeof *c);
    if (!c || !(c->path = strdup(name))) {
        free(c);
        snprintf(err, errlen, "%s: out of memory", name);
        return -1;
    }
    const char *p = text;
    /* A UTF-8 byte-order mark is allowed. */
    if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB && (unsigned char)p[2] == 0xBF)
        p += 3;
    for (int lineno = 1; *p; lineno++) {
        const char *nl = strchr(p, '\n');
        const char *end = nl ? nl : p + strlen(p);
        if (parse_line(c, p, end, lineno, err, errlen) < 0) {
            config_free(c);
            return -1;
        }
        p = nl ? nl + 1 : end;
    }
    *out = c;
    return 0;
}

int config_load_file(struct config **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    struct text_buf b = {0};
    char chunk[4096];
    size_t n;
    int rc = tb_append(&b, "", 0);
    while (rc == 0 && (n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        if (memchr(chunk, '\0', n)) {
            snprintf(err, errlen, "%s: not a text file (NUL byte)", path);
            fclose(f);
            free(b.data);
            return -1;
        }
        rc = tb_append(&b, chunk, n);
        if (b.len > 16u << 20) {
            snprintf(err, errlen, "%s: larger than 16 MiB", path);
            rc = -1;
            err = NULL;
        }
    }
    bool read_error = ferror(f);
    fclose(f);
    if (rc < 0 || read_error) {
        if (err)
            snprintf(err, errlen, "%s: cannot read: %s", path, read_error ? strerror(errno) : "out of memory");
        free(b.data);
        return -1;
    }
    rc = config_load_string(out, path, b.data, err, errlen);
    free(b.data);
    return rc;
}

/* ---------------------------------------------------------------- getters */

static struct config_entry *get_entry(struct config_section *s, const char *key)
{
    struct config_entry *e = config_entry_find(s, key);
    if (e)
        e->used = true;
    return e;
}

int config_get_int(const struct config *c, struct config_section *s, const char *key, long long dflt,
                   long long min, long long max, long long *out, char *err, size_t errlen)
{
    struct config_entry *e = get_entry(s, key);
    if (!e) {
        *out = dflt;
        return 0;
    }
    char *end;
    errno = 0;
    long long v = strtoll(e->value, &end, 10);
    if (!*e->value || *end || errno || v < min || v > max) {
        config_errorf(err, errlen, c, s->name, key, "expected an integer between %lld and %lld, got '%s'",
                      min, max, e->value);
        return -1;
    }
    *out = v;
    return 0;
}

int config_get_bool(const struct config *c, struct config_section *s, const char *key, bool dflt,
                    bool *out, char *err, size_t errlen)
{
    struct config_entry *e = get_entry(s, key);
    if (!e) {
        *out = dflt;
        return 0;
    }
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (strcasecmp(e->value, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcasecmp(e->value, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    config_errorf(err, errlen, c, s->name, key, "expected true or false, got '%s'", e->value);
    return -1;
}

/* A decimal number followed by a unit from `units`; multiplier out. */
static int parse_scaled(const char *v, const char *const *units, const unsigned long long *mult,
                        size_t nunits, size_t default_unit, unsigned long long *out)
{
    char *end;
    errno = 0;
    if (!isdigit((unsigned char)*v))
        return -1;
    unsigned long long n = strtoull(v, &end, 10);
    if (errno)
        return -1;
    while (*end == ' ')
        end++;
    unsigned long long m = mult[default_unit];
    if (*end) {
        size_t i;
        for (i = 0; i < nunits; i++)
            if (strcasecmp(end, units[i]) == 0)
                break;
        if (i == nunits)
            return -1;
        m = mult[i];
    }
    if (m && n > ~0ULL / m)
        return -1;
    *out = n * m;
    return 0;
}

int config_get_size(const struct config *c, struct config_section *s, const char *key, size_t dflt,
                    size_t min, size_t max, size_t *out, char *err, size_t errlen)
{
    struct config_entry *e = get_entry(s, key);
    if (!e) {
        *out = dflt;
        return 0;
    }
    static const char *const units[] = {"", "k", "m", "g", "kb", "mb", "gb"};
    static const unsigned long long mult[] = {1, 1ULL << 10, 1ULL << 20, 1ULL << 30,
                                              1ULL << 10, 1ULL << 20, 1ULL << 30};
    unsigned long long v;
    if (parse_scaled(e->value, units, mult, 7, 0, &v) < 0 || v < min || v > max) {
        config_errorf(err, errlen, c, s->name, key, "expected a size between %zu and %zu bytes (K, M, G suffixes), got '%s'",
                      min, max, e->value);
        return -1;
    }
    *out = (size_t)v;
    return 0;
}

int config_get_duration_ms(const struct config *c, struct config_section *s, const char *key,
                           long long dflt, long long min, long long max, long long *out, char *err,
                           size_t errlen)
{
    struct config_entry *e = get_entry(s, key);
    if (!e) {
        *out = dflt;
        return 0;
    }
    static const char *const units[] = {"s", "ms", "m", "h", "d"};
    static const unsigned long long mult[] = {1000, 1, 60000, 3600000, 86400000};
    unsigned long long v;
    if (parse_scaled(e->value, units, mult, 5, 0, &v) < 0 || v < (unsigned long long)min ||
        v > (unsigned long long)max) {
        config_errorf(err, errlen, c, s->name, key,
                      "expected a duration between %lldms and %lldms (ms, s, m, h, d), got '%s'", min, max,
                      e->value);
        return -1;
    }
    *out = (long long)v;
    return 0;
}
