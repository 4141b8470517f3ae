#include "support_skills.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool support_topic_valid(const char *s, size_t len, const char **why)
{
    if (!s || len == 0) {
        *why = "the topic is empty";
        return false;
    }
    if (len > SUPPORT_TOPIC_MAX) {
        *why = "a topic is at most 32 characters";
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) {
            *why = "a topic is lowercase ASCII letters, digits, '-' and '_'";
            return false;
        }
    }
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* s[*from..end) trimmed into [*b, *e). */
static void trim(const char *s, size_t from, size_t end, size_t *b, size_t *e)
{
    while (from < end && is_space(s[from]))
        from++;
    while (end > from && is_space(s[end - 1]))
        end--;
    *b = from;
    *e = end;
}

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, s, n);
        d[n] = '\0';
    }
    return d;
}

static const struct agent_skills *find(const struct support_skills *s, const char *agent)
{
    for (size_t i = 0; s && agent && i < s->n; i++)
        if (strcmp(s->v[i].agent, agent) == 0)
            return &s->v[i];
    return NULL;
}

static bool has(const struct agent_skills *a, const char *topic)
{
    for (size_t i = 0; a && i < a->ntopics; i++)
        if (strcmp(a->topics[i], topic) == 0)
            return true;
    return false;
}

/* One entry text[b, e): "AGENT:TOPIC,TOPIC", appended to out. */
static int parse_entry(const char *text, size_t b, size_t e, struct support_skills *out, char *why, size_t whylen)
{
    int len = (int)(e - b > 60 ? 60 : e - b);
    const char *colon = memchr(text + b, ':', e - b);
    if (!colon) {
        snprintf(why, whylen, "'%.*s': expected AGENT:TOPIC[,TOPIC...]", len, text + b);
        return -1;
    }
    size_t ab, ae;
    trim(text, b, (size_t)(colon - text), &ab, &ae);
    if (ab == ae) {
        snprintf(why, whylen, "'%.*s': the agent's name is missing before ':'", len, text + b);
        return -1;
    }
    if (ae - ab > 255) {
        snprintf(why, whylen, "'%.*s...': an agent's name is at most 255 bytes", 40, text + ab);
        return -1;
    }
    for (size_t i = ab; i < ae; i++)
        if (is_space(text[i]) || text[i] == ',') {
            snprintf(why, whylen, "'%.*s': an agent's name has no white space or ','", (int)(ae - ab > 60 ? 60 : ae - ab),
                     text + ab);
            return -1;
        }
    if (out->n >= SUPPORT_SKILLS_AGENTS_MAX) {
        snprintf(why, whylen, "more than %d agents", SUPPORT_SKILLS_AGENTS_MAX);
        return -1;
    }
    struct agent_skills *v = realloc(out->v, (out->n + 1) * sizeof *v);
    if (!v) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    out->v = v;
    struct agent_skills *a = &out->v[out->n];
    *a = (struct agent_skills){.agent = dup_n(text + ab, ae - ab)};
    if (!a->agent) {
        snprintf(why, whylen, "out of memory");
        return -1;
    }
    if (find(out, a->agent)) { /* the ones before it */
        snprintf(why, whylen, "agent '%.60s' is named twice", a->agent);
        free(a->agent);
        return -1;
    }
    out->n++;
    size_t p = (size_t)(colon - text) + 1;
    for (;;) {
        const char *comma = memchr(text + p, ',', e - p);
        size_t end = comma ? (size_t)(comma - text) : e, tb, te;
        trim(text, p, end, &tb, &te);
        const char *bad = NULL;
        if (!support_topic_valid(text + tb, te - tb, &bad)) {
            if (te == tb)
                snprintf(why, whylen, "agent '%.60s': a topic is missing", a->agent);
            else
                snprintf(why, whylen, "agent '%.60s', topic '%.*s': %s", a->agent, (int)(te - tb > 40 ? 40 : te - tb),
                         text + tb, bad);
            return -1;
        }
        char *topic = dup_n(text + tb, te - tb);
        if (!topic) {
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        if (has(a, topic)) {
            snprintf(why, whylen, "agent '%.60s': topic '%s' is named twice", a->agent, topic);
            free(topic);
            return -1;
        }
        if (a->ntopics >= SUPPORT_SKILLS_PER_AGENT_MAX) {
            snprintf(why, whylen, "agent '%.60s': more than %d topics", a->agent, SUPPORT_SKILLS_PER_AGENT_MAX);
            free(topic);
            return -1;
        }
        char **t = realloc(a->topics, (a->ntopics + 1) * sizeof *t);
        if (!t) {
            free(topic);
            snprintf(why, whylen, "out of memory");
            return -1;
        }
        a->topics = t;
        a->topics[a->ntopics++] = topic;
        if (!comma)
            return 0;
        p = end + 1;
    }
}

int support_skills_parse(const char *text, struct support_skills *out, char *why, size_t whylen)
{
    *out = (struct support_skills){0};
    if (!text)
        return 0;
    size_t n = strlen(text), p = 0;
    while (p <= n) {
        const char *semi = memchr(text + p, ';', n - p);
        size_t end = semi ? (size_t)(semi - text) : n, b, e;
        trim(text, p, end, &b, &e);
        if (b < e && parse_entry(text, b, e, out, why, whylen) < 0) {
            support_skills_free(out);
            return -1;
        }
        p = end + 1;
    }
    return 0;
}

void support_skills_free(struct support_skills *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->v[i].ntopics; k++)
            free(s->v[i].topics[k]);
        free(s->v[i].topics);
        free(s->v[i].agent);
    }
    free(s->v);
    *s = (struct support_skills){0};
}

const char *const *support_skills_of(const struct support_skills *s, const char *agent, size_t *n)
{
    const struct agent_skills *a = find(s, agent);
    *n = a ? a->ntopics : 0;
    return a ? (const char *const *)a->topics : NULL;
}

bool support_skills_has(const struct support_skills *s, const char *agent, const char *topic)
{
    return topic && has(find(s, agent), topic);
}

const struct agent_skills *support_skills_find(const struct support_skills *s, const char *agent)
{
    return find(s, agent);
}

bool support_agent_has(const struct agent_skills *a, const char *topic)
{
    return topic && has(a, topic);
}

bool support_skills_known(const struct support_skills *s, const char *topic)
{
    for (size_t i = 0; s && topic && i < s->n; i++)
        if (has(&s->v[i], topic))
            return true;
    return false;
}

bool support_skills_match(const struct support_skills *s, const char *agent, const char *topic)
{
    if (!topic || !*topic || !support_skills_known(s, topic))
        return true;
    return has(find(s, agent), topic);
}
