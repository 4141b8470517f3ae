#include "wire/room_json.h"

#include <string.h>

#include "clock.h"
#include "wire/jsonw.h"
#include "rooms/message_body.h"
#include "rooms/room_rules.h"

const char *room_kind_name(chatd_room_kind k)
{
    return k == CHATD_ROOM_SUPPORT ? "support" : k == CHATD_ROOM_DIRECT ? "direct" : "group";
}

const char *room_message_kind_name(chatd_message_kind k)
{
    return k == CHATD_MESSAGE_FILE ? "file" : k == CHATD_MESSAGE_SYSTEM ? "system" : "text";
}

const char *room_state_name(const struct chatd_room *r)
{
    if (r->state == CHATD_ROOM_ASSIGNED)
        return "assigned";
    if (r->state == CHATD_ROOM_COMPLETED)
        return "completed";
    if (r->state == CHATD_ROOM_CLOSED)
        return "closed";
    return r->kind == CHATD_ROOM_SUPPORT ? "unassigned" : "open";
}

/* A message's members, in order, written once for both writers below:
 * the tree (a room's last_message) and the text (history pages), so the
 * two can never differ. */
enum field_type { F_STR, F_NULLABLE, F_INT, F_TRUE };
struct field_sink {
    void (*put)(struct field_sink *k, const char *key, enum field_type t, const char *s, size_t n, int64_t v);
};

static void message_fields(const struct chatd_message *m, struct field_sink *k)
{
    k->put(k, "id", F_STR, m->id, strlen(m->id), 0);
    k->put(k, "room", F_STR, m->room, strlen(m->room), 0);
    k->put(k, "seq", F_INT, NULL, 0, (int64_t)m->seq);
    k->put(k, "sender", F_STR, m->sender ? m->sender : "", m->sender ? strlen(m->sender) : 0, 0);
    k->put(k, "client_id", F_NULLABLE, m->client_id, m->client_id ? strlen(m->client_id) : 0, 0);
    k->put(k, "timestamp", F_INT, NULL, 0, m->ts_ms);
    k->put(k, "body", F_STR, m->body ? m->body : "", m->body ? m->body_len : 0, 0);
    const char *ct = message_content_type(m->content_type, m->body ? m->body : "", m->body ? m->body_len : 0);
    k->put(k, "content_type", F_STR, ct, strlen(ct), 0);
    const char *kind = room_message_kind_name(m->kind);
    k->put(k, "kind", F_STR, kind, strlen(kind), 0);
    k->put(k, "reply_to", m->reply_to ? F_INT : F_NULLABLE, NULL, 0, (int64_t)m->reply_to);
    if (message_erased(m))
        k->put(k, "erased", F_TRUE, NULL, 0, 0);
    if (m->rev) {
        k->put(k, "rev", F_INT, NULL, 0, (int64_t)m->rev);
        k->put(k, "edited_at", F_INT, NULL, 0, m->edited_ms);
    }
    if (m->deleted)
        k->put(k, "deleted", F_TRUE, NULL, 0, 0);
}

struct tree_sink {
    struct field_sink k;
    json_t *obj;
    bool failed;
};

static void tree_put(struct field_sink *k, const char *key, enum field_type t, const char *s, size_t n, int64_t v)
{
    struct tree_sink *ts = (struct tree_sink *)k;
    json_t *val = t == F_INT                ? json_integer(v)
                  : t == F_TRUE             ? json_true()
                  : t == F_NULLABLE && !s   ? json_null()
                                            : json_stringn(s, n);
    if (!val || json_object_set_new(ts->obj, key, val) != 0)
        ts->failed = true;
}

json_t *room_message_json(const struct chatd_message *m)
{
    struct tree_sink ts = {.k.put = tree_put, .obj = json_object()};
    if (!ts.obj)
        return NULL;
    message_fields(m, &ts.k);
    if (ts.failed) {
        json_decref(ts.obj);
        return NULL;
    }
    return ts.obj;
}

struct text_sink {
    struct field_sink k;
    struct jsonw *w;
    bool first;
};

static void text_put(struct field_sink *k, const char *key, enum field_type t, const char *s, size_t n, int64_t v)
{
    struct text_sink *ws = (struct text_sink *)k;
    jsonw_key(ws->w, key, ws->first);
    ws->first = false;
    if (t == F_INT)
        jsonw_i64(ws->w, v);
    else if (t == F_TRUE)
        jsonw_raw(ws->w, "true", 4);
    else if (t == F_NULLABLE && !s)
        jsonw_raw(ws->w, "null", 4);
    else
        jsonw_str(ws->w, s, n);
}

void room_message_jsonw(struct jsonw *w, const struct chatd_message *m)
{
    struct text_sink ws = {.k.put = text_put, .w = w, .first = true};
    jsonw_raw(w, "{", 1);
    message_fields(m, &ws.k);
    jsonw_raw(w, "}", 1);
}

void room_message_jsonw_reacted(struct jsonw *w, const struct chatd_message *m,
                                const struct chatd_reaction_count *counts, size_t n)
{
    struct text_sink ws = {.k.put = text_put, .w = w, .first = true};
    jsonw_raw(w, "{", 1);
    message_fields(m, &ws.k);
    jsonw_key(w, "reactions", ws.first);
    jsonw_raw(w, "[", 1);
    if (m->deleted || message_erased(m))
        n = 0;
    for (size_t i = 0; i < n; i++) {
        jsonw_raw(w, i ? ",{" : "{", i ? 2 : 1);
        jsonw_key(w, "emoji", true);
        jsonw_str(w, counts[i].emoji, strlen(counts[i].emoji));
        jsonw_key(w, "count", false);
        jsonw_u64(w, counts[i].count);
        jsonw_key(w, "me", false);
        jsonw_raw(w, counts[i].me ? "true" : "false", counts[i].me ? 4 : 5);
        jsonw_raw(w, "}", 1);
    }
    jsonw_raw(w, "]}", 2);
}

json_t *room_reactions_json(const struct chatd_reaction_count *counts, size_t n, bool with_me)
{
    json_t *a = json_array();
    for (size_t i = 0; a && i < n; i++) {
        json_t *o = json_pack("{s:s, s:I}", "emoji", counts[i].emoji, "count", (json_int_t)counts[i].count);
        if (o && with_me)
            json_object_set_new(o, "me", json_boolean(counts[i].me));
        if (!o || json_array_append_new(a, o) != 0) {
            json_decref(a);
            return NULL;
        }
    }
    return a;
}

json_t *room_json(const struct chatd_room *r, const char *for_user)
{
    json_t *members = json_array();
    for (size_t i = 0; i < r->nmembers; i++)
        json_array_append_new(members, json_string(r->members[i]));
    json_t *j = json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?, s:o, s:I, s:I}", "id", r->id, "kind",
                          room_kind_name(r->kind), "state", room_state_name(r), "title", r->title, "owner", r->owner,
                          "agent", r->agent, "members", members, "created_at", (json_int_t)r->created_ms,
                          "last_seq", (json_int_t)r->last_seq);
    if (!j)
        return NULL;
    if (r->kind == CHATD_ROOM_GROUP) {
        json_t *admins = json_array();
        for (size_t i = 0; i < r->nadmins; i++)
            json_array_append_new(admins, json_string(r->admins[i]));
        json_object_set_new(j, "admins", admins);
    }
    if (r->kind == CHATD_ROOM_SUPPORT)
        json_object_set_new(j, "topic", r->topic ? json_string(r->topic) : json_null());
    if (r->assigned_ms)
        json_object_set_new(j, "assigned_at", json_integer(r->assigned_ms));
    if (room_closed_ms(r))
        json_object_set_new(j, "closed_at", json_integer(room_closed_ms(r)));
    if (r->rating) {
        json_t *rating = json_pack("{s:i, s:I}", "score", (int)r->rating, "rated_at", (json_int_t)r->rated_ms);
        if (rating && r->rating_comment)
            json_object_set_new(rating, "comment", json_string(r->rating_comment));
        if (rating)
            json_object_set_new(j, "rating", rating);
    }
    if (r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_OPEN)
        json_object_set_new(j, "waiting_ms", json_integer(clock_wall_ms() - r->created_ms));
    if (for_user) {
        json_object_set_new(j, "read_seq", json_integer((json_int_t)r->read_seq));
        json_object_set_new(j, "unread", json_integer((json_int_t)(r->last_seq > r->read_seq ? r->last_seq - r->read_seq : 0)));
        json_object_set_new(j, "last_message", r->last_message ? room_message_json(r->last_message) : json_null());
    }
    return j;
}
