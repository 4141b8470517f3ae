#include "http/notes_rest.h"

#include <string.h>

#include <jansson.h>

#include "http/rest_call.h"
#include "rooms/notes.h"
#include "rooms/room_rules.h"
#include "server.h"
#include "wire/query.h"
#include "wire/room_json.h"

/* A client_id in a JSON body; a STOMP header is bounded by [stomp]'s limits. */
#define CLIENT_ID_MAX 200

/* A note as the API writes it: a message's JSON, its kind "note", its room
 * the support room. */
static json_t *note_json(const struct chatd_message *m)
{
    json_t *j = room_message_json(m);
    if (j)
        json_object_set_new(j, "kind", json_string("note"));
    return j;
}

static void posted(void *ctx, const struct room_answer *a, const struct chatd_message *note)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK && a->status != ROOM_EXISTS) {
        rest_room_error(c, a);
        return;
    }
    if (!note) { /* stored, nothing more known of it */
        rest_respond(c, 201, json_pack("{s:s}", "room", c->params[0]));
        return;
    }
    /* A retry of a stored client_id answers the note stored first. */
    rest_respond(c, a->status == ROOM_OK ? 201 : 200,
                 a->status == ROOM_OK ? note_json(note)
                                      : json_pack("{s:s, s:I, s:s?}", "room", note->room, "seq", (json_int_t)note->seq,
                                                  "id", note->id));
}

static void paged(void *ctx, const struct room_answer *a, const struct chatd_message *notes, size_t n,
                  uint64_t next_before)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        json_array_append_new(list, note_json(&notes[i]));
    json_t *body = list ? json_pack("{s:o}", "notes", list) : NULL;
    if (body && next_before)
        json_object_set_new(body, "next_before", json_integer((json_int_t)next_before));
    if (!body) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    rest_respond(c, 200, body);
}

void notes_rest(struct rest_call *c, const char *room, bool post)
{
    if (!room || !room_valid_id(room, strlen(room))) {
        rest_error(c, 404, "not_found", "no such room");
        return;
    }
    if (!post) {
        char b[32], a[32], l[32];
        const char *bs = rest_query(c, "before", b, sizeof b), *as = rest_query(c, "after", a, sizeof a),
                   *ls = rest_query(c, "limit", l, sizeof l);
        struct history_cursor cur = {.before_set = bs, .after_set = as, .limit_set = ls};
        cur.malformed = (bs && !query_u64(bs, &cur.before)) || (as && !query_u64(as, &cur.after)) ||
                        (ls && !query_u64(ls, &cur.limit));
        notes_page(c->srv->rooms, room, c->user, c->roles, &cur, paged, c);
        return;
    }
    json_t *body = json_object_get(c->body, "body"), *ct = json_object_get(c->body, "content_type"),
           *key = json_object_get(c->body, "client_id");
    if (!json_is_object(c->body) || !json_is_string(body) || (ct && !json_is_string(ct)) ||
        (key && (!json_is_string(key) || !json_string_length(key) || json_string_length(key) > CLIENT_ID_MAX))) {
        rest_error(c, 400, "bad_request",
                   "expected {\"body\": TEXT} and at most a \"content_type\" string and a \"client_id\" of 1 "
                   "to %d bytes",
                   CLIENT_ID_MAX);
        return;
    }
    struct note_draft d = {.room_id = room, .author = c->user, .roles = c->roles, .body = json_string_value(body),
                           .body_len = json_string_length(body), .content_type = json_string_value(ct),
                           .client_id = json_string_value(key)};
    note_post(c->srv->rooms, &d, posted, c);
}
