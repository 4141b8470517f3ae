#include "wire/transcript_render.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire/message_body_json.h"
#include "rooms/room_rules.h"
#include "wire/jsonw.h"
#include "wire/room_json.h"

/* Distinct names of the agents (everyone but the customer) kept at most;
 * a support room has one agent at a time and few hand-overs. */
#define AGENTS_MAX 64

struct transcript_render {
    bool text;
    struct jsonw msgs; /* the messages, as they came: JSON objects or text lines */
    size_t nmsgs;
    char *id, *state, *customer;
    char *topic;           /* NULL: none */
    uint32_t rating;       /* 0: none */
    char *rating_comment;  /* NULL: none */
    int64_t rated_ms;
    int64_t created_ms, assigned_ms, completed_ms, closed_ms;
    char *agents[AGENTS_MAX];
    size_t nagents;
    bool failed;
};

struct transcript_render *transcript_render_new(bool text)
{
    struct transcript_render *t = calloc(1, sizeof *t);
    if (t)
        t->text = text;
    return t;
}

void transcript_render_free(struct transcript_render *t)
{
    if (!t)
        return;
    jsonw_free(&t->msgs);
    free(t->id);
    free(t->state);
    free(t->customer);
    free(t->topic);
    free(t->rating_comment);
    for (size_t i = 0; i < t->nagents; i++)
        free(t->agents[i]);
    free(t);
}

static void agent_add(struct transcript_render *t, const char *name)
{
    if (!name || !*name || (t->customer && strcmp(name, t->customer) == 0))
        return;
    for (size_t i = 0; i < t->nagents; i++)
        if (strcmp(t->agents[i], name) == 0)
            return;
    if (t->nagents == AGENTS_MAX)
        return;
    if (!(t->agents[t->nagents] = strdup(name)))
        t->failed = true;
    else
        t->nagents++;
}

static char *dup_or_null(const char *s, bool *failed)
{
    if (!s)
        return NULL;
    char *d = strdup(s);
    if (!d)
        *failed = true;
    return d;
}

void transcript_render_room(struct transcript_render *t, const struct chatd_room *r)
{
    t->id = dup_or_null(r->id, &t->failed);
    t->state = dup_or_null(room_state_name(r), &t->failed);
    t->customer = dup_or_null(r->owner, &t->failed);
    t->topic = dup_or_null(r->topic, &t->failed);
    t->created_ms = r->created_ms;
    t->assigned_ms = r->assigned_ms;
    t->closed_ms = room_closed_ms(r);
    t->completed_ms = r->state == CHATD_ROOM_COMPLETED ? r->closed_ms : 0;
    t->rating = r->rating;
    t->rating_comment = r->rating ? dup_or_null(r->rating_comment, &t->failed) : NULL;
    t->rated_ms = r->rated_ms;
    agent_add(t, r->agent);
    for (size_t i = 0; i < r->nmembers; i++)
        agent_add(t, r->members[i]);
}

void transcript_time(char *out, size_t len, int64_t ms)
{
    time_t s = (time_t)(ms / 1000);
    struct tm tm;
    if (ms < 0 || !gmtime_r(&s, &tm)) {
        snprintf(out, len, "-");
        return;
    }
    char day[24];
    strftime(day, sizeof day, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out, len, "%s.%03dZ", day, (int)(ms % 1000));
}

/* s[0..n) on one line: a line break is written as the two characters \n,
 * a backslash as \\ (so the text reads back unambiguously). */
static void text_one_line(struct jsonw *w, const char *s, size_t n)
{
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const char *esc = s[i] == '\n' ? "\\n" : s[i] == '\r' ? "\\r" : s[i] == '\\' ? "\\\\" : NULL;
        if (!esc)
            continue;
        jsonw_raw(w, s + from, i - from);
        jsonw_raw(w, esc, 2);
        from = i + 1;
    }
    jsonw_raw(w, s + from, n - from);
}

static void text_line(struct transcript_render *t, const struct chatd_message *m)
{
    struct jsonw *w = &t->msgs;
    char when[40];
    transcript_time(when, sizeof when, m->ts_ms);
    jsonw_raw(w, when, strlen(when));
    jsonw_raw(w, " ", 1);
    if (m->kind == CHATD_MESSAGE_SYSTEM)
        jsonw_raw(w, "* ", 2);
    const char *who = message_erased(m) ? "(erased user)" : m->sender;
    jsonw_raw(w, who, strlen(who));
    if (m->rev && m->edited_ms && !m->deleted) {
        transcript_time(when, sizeof when, m->edited_ms);
        jsonw_raw(w, " (edited ", 9);
        jsonw_raw(w, when, strlen(when));
        jsonw_raw(w, ")", 1);
    }
    jsonw_raw(w, ": ", 2);
    if (m->deleted || message_erased(m)) {
        jsonw_raw(w, "(message deleted)", 17);
    } else {
        /* A JSON message's text; a body it cannot read, as it is. */
        size_t tl = 0;
        char *text = message_body_text(m->content_type, m->body ? m->body : "", m->body ? m->body_len : 0, &tl);
        if (text)
            text_one_line(w, text, tl);
        else
            text_one_line(w, m->body ? m->body : "", m->body ? m->body_len : 0);
        free(text);
    }
    jsonw_raw(w, "\n", 1);
}

void transcript_render_messages(struct transcript_render *t, const struct chatd_message *msgs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct chatd_message *m = &msgs[i];
        if (m->kind != CHATD_MESSAGE_SYSTEM && !message_erased(m))
            agent_add(t, m->sender);
        if (t->text) {
            text_line(t, m);
        } else {
            if (t->nmsgs)
                jsonw_raw(&t->msgs, ",", 1);
            room_message_jsonw(&t->msgs, m);
        }
        t->nmsgs++;
    }
}

static void text_header(struct transcript_render *t, struct jsonw *w, const char *label, int64_t ms)
{
    if (!ms)
        return;
    char when[40];
    transcript_time(when, sizeof when, ms);
    jsonw_raw(w, label, strlen(label));
    jsonw_raw(w, when, strlen(when));
    jsonw_raw(w, "\n", 1);
    (void)t;
}

static void take_text(struct transcript_render *t, struct jsonw *w, bool truncated)
{
    jsonw_raw(w, "Chat ", 5);
    jsonw_raw(w, t->id, strlen(t->id));
    jsonw_raw(w, " (", 2);
    jsonw_raw(w, t->state, strlen(t->state));
    jsonw_raw(w, ")\nCustomer: ", 12);
    jsonw_raw(w, t->customer ? t->customer : "", t->customer ? strlen(t->customer) : 0);
    if (t->topic) {
        jsonw_raw(w, "\nTopic: ", 8);
        jsonw_raw(w, t->topic, strlen(t->topic));
    }
    jsonw_raw(w, "\nAgents: ", 9);
    for (size_t i = 0; i < t->nagents; i++) {
        if (i)
            jsonw_raw(w, ", ", 2);
        jsonw_raw(w, t->agents[i], strlen(t->agents[i]));
    }
    jsonw_raw(w, "\n", 1);
    text_header(t, w, "Created: ", t->created_ms);
    text_header(t, w, "Assigned: ", t->assigned_ms);
    text_header(t, w, "Completed: ", t->completed_ms);
    text_header(t, w, "Closed: ", t->closed_ms);
    if (t->rating) {
        char score[32];
        int n = snprintf(score, sizeof score, "Rating: %u/5", (unsigned)t->rating);
        jsonw_raw(w, score, (size_t)n);
        if (t->rating_comment) {
            jsonw_raw(w, " ", 1);
            text_one_line(w, t->rating_comment, strlen(t->rating_comment));
        }
        jsonw_raw(w, "\n", 1);
    }
    jsonw_raw(w, "\n", 1);
    if (t->msgs.len)
        jsonw_raw(w, t->msgs.buf, t->msgs.len);
    if (truncated) {
        char note[128];
        int n = snprintf(note, sizeof note, "(transcript cut after %zu messages; read the rest with the history API)\n",
                         t->nmsgs);
        jsonw_raw(w, note, (size_t)n);
    }
}

static void time_member(struct jsonw *w, const char *key, int64_t ms)
{
    if (!ms)
        return;
    jsonw_key(w, key, false);
    jsonw_i64(w, ms);
}

static void take_json(struct transcript_render *t, struct jsonw *w, bool truncated)
{
    jsonw_raw(w, "{\"room\":{", 9);
    jsonw_key(w, "id", true);
    jsonw_cstr(w, t->id);
    jsonw_key(w, "kind", false);
    jsonw_cstr(w, "support");
    jsonw_key(w, "state", false);
    jsonw_cstr(w, t->state);
    jsonw_key(w, "customer", false);
    jsonw_cstr(w, t->customer);
    jsonw_key(w, "topic", false);
    if (t->topic)
        jsonw_cstr(w, t->topic);
    else
        jsonw_raw(w, "null", 4);
    jsonw_key(w, "agents", false);
    jsonw_raw(w, "[", 1);
    for (size_t i = 0; i < t->nagents; i++) {
        if (i)
            jsonw_raw(w, ",", 1);
        jsonw_cstr(w, t->agents[i]);
    }
    jsonw_raw(w, "]", 1);
    time_member(w, "created_at", t->created_ms);
    time_member(w, "assigned_at", t->assigned_ms);
    time_member(w, "completed_at", t->completed_ms);
    time_member(w, "closed_at", t->closed_ms);
    if (t->rating) {
        jsonw_key(w, "rating", false);
        jsonw_raw(w, "{", 1);
        jsonw_key(w, "score", true);
        jsonw_u64(w, t->rating);
        if (t->rating_comment) {
            jsonw_key(w, "comment", false);
            jsonw_cstr(w, t->rating_comment);
        }
        jsonw_key(w, "rated_at", false);
        jsonw_i64(w, t->rated_ms);
        jsonw_raw(w, "}", 1);
    }
    jsonw_raw(w, "},\"messages\":[", 14);
    if (t->msgs.len)
        jsonw_raw(w, t->msgs.buf, t->msgs.len);
    jsonw_raw(w, "]", 1);
    jsonw_key(w, "truncated", false);
    jsonw_raw(w, truncated ? "true" : "false", truncated ? 4 : 5);
    jsonw_raw(w, "}", 1);
}

char *transcript_render_take(struct transcript_render *t, bool truncated, size_t *len)
{
    if (t->failed || t->msgs.failed || !t->id || !t->state)
        return NULL;
    struct jsonw w = {0};
    if (t->text)
        take_text(t, &w, truncated);
    else
        take_json(t, &w, truncated);
    return jsonw_take(&w, len);
}
