#include "wire/room_json.h"

#include "clock.h"
#include "wire/jsonw.h"
#include "rooms/room_rules.h"

const char *room_kind_name(chatd_room_kind k)
{
    return k == CHATD_ROOM_SUPPORT ? "support" : k == CHATD_ROOM_DIRECT ? "direct" : "group";
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

json_t *room_message_json(const struct chatd_message *m)
{
    json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s?, s:I, s:s%}", "id", m->id, "room", m->room, "seq",
                          (json_int_t)m->seq, "sender", m->sender ? m->sender : "", "client_id", m->client_id,
                          "timestamp", (json_int_t)m->ts_ms, "body", m->body ? m->body : "",
                          m->body ? m->body_len : 0);
    if (j && message_erased(m))
        json_object_set_new(j, "erased", json_true());
    return j;
}

void room_message_jsonw(struct jsonw *w, const struct chatd_message *m)
{
    jsonw_raw(w, "{", 1);
    jsonw_key(w, "id", true);
    jsonw_cstr(w, m->id);
    jsonw_key(w, "room", false);
    jsonw_cstr(w, m->room);
    jsonw_key(w, "seq", false);
    jsonw_u64(w, m->seq);
    jsonw_key(w, "sender", false);
    jsonw_cstr(w, m->sender ? m->sender : "");
    jsonw_key(w, "client_id", false);
    jsonw_cstr(w, m->client_id);
    jsonw_key(w, "timestamp", false);
    jsonw_i64(w, m->ts_ms);
    jsonw_key(w, "body", false);
    jsonw_str(w, m->body ? m->body : "", m->body ? m->body_len : 0);
    if (message_erased(m)) {
        jsonw_key(w, "erased", false);
        jsonw_raw(w, "true", 4);
    }
    jsonw_raw(w, "}", 1);
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
    if (r->assigned_ms)
        json_object_set_new(j, "assigned_at", json_integer(r->assigned_ms));
    if (room_closed_ms(r))
        json_object_set_new(j, "closed_at", json_integer(room_closed_ms(r)));
    if (r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_OPEN)
        json_object_set_new(j, "waiting_ms", json_integer(clock_wall_ms() - r->created_ms));
    if (for_user) {
        json_object_set_new(j, "read_seq", json_integer((json_int_t)r->read_seq));
        json_object_set_new(j, "unread", json_integer((json_int_t)(r->last_seq > r->read_seq ? r->last_seq - r->read_seq : 0)));
        json_object_set_new(j, "last_message", r->last_message ? room_message_json(r->last_message) : json_null());
    }
    return j;
}
