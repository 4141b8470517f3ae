#include "http/canned_rest.h"

#include <string.h>

#include <jansson.h>

#include "http/rest_call.h"
#include "rooms/canned_replies.h"
#include "server.h"

static json_t *reply_json(const struct chatd_canned_reply *r)
{
    return json_pack("{s:s, s:s, s:s, s:s, s:s, s:I}", "desk", r->desk, "shortcut", r->shortcut, "title", r->title,
                     "body", r->body, "updated_by", r->updated_by, "updated_at", (json_int_t)r->updated_ms);
}

static void listed(void *ctx, const struct room_answer *a, const struct chatd_canned_reply *replies, size_t n)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, reply_json(&replies[i])) < 0) {
            json_decref(list);
            list = NULL;
        }
    json_t *body = list ? json_pack("{s:s, s:o, s:b, s:I}", "desk", CANNED_DESK, "replies", list, "can_edit",
                                    canned_may_write(c->roles, c->srv->rooms->canned_agents_write), "max",
                                    (json_int_t)CANNED_PER_DESK)
                        : NULL;
    if (!body) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    rest_respond(c, 200, body);
}

/* GET of one: the desk's list, the one whose shortcut is c->params[0] as
 * stored. */
static void found(void *ctx, const struct room_answer *a, const struct chatd_canned_reply *replies, size_t n)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    char key[CHATD_CANNED_SHORTCUT_MAX + 1];
    const char *why;
    if (canned_shortcut_normal(c->params[0], strlen(c->params[0]), key, &why))
        for (size_t i = 0; i < n; i++)
            if (strcmp(replies[i].shortcut, key) == 0) {
                json_t *body = reply_json(&replies[i]);
                if (body)
                    rest_respond(c, 200, body);
                else
                    rest_error(c, 500, "internal", "out of memory");
                return;
            }
    rest_error(c, 404, "not_found", "no such canned reply");
}

static void saved(void *ctx, const struct room_answer *a, const struct chatd_canned_reply *reply, bool created)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    json_t *body = reply_json(reply);
    if (!body) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    rest_respond(c, created ? 201 : 200, body);
}

static void removed(void *ctx, const struct room_answer *a)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    rest_respond(c, 204, NULL);
}

void canned_rest(struct rest_call *c, enum canned_request_kind what, const char *shortcut)
{
    struct rooms *rooms = c->srv->rooms;
    struct canned_request req = {.user = c->user, .roles = c->roles, .shortcut = shortcut,
                                 .shortcut_len = shortcut ? strlen(shortcut) : 0};
    switch (what) {
    case CANNED_LIST:
        canned_list(rooms, c->roles, listed, c);
        return;
    case CANNED_GET: {
        const char *why;
        char key[CHATD_CANNED_SHORTCUT_MAX + 1];
        if (!canned_shortcut_normal(shortcut, req.shortcut_len, key, &why)) {
            rest_error(c, 400, "bad_request", "%s", why);
            return;
        }
        canned_list(rooms, c->roles, found, c);
        return;
    }
    case CANNED_PUT: {
        json_t *title = json_object_get(c->body, "title"), *body = json_object_get(c->body, "body");
        if (!json_is_object(c->body) || !json_is_string(title) || !json_is_string(body)) {
            rest_error(c, 400, "bad_request", "expected {\"title\": T, \"body\": B} with two strings");
            return;
        }
        req.title = json_string_value(title);
        req.title_len = json_string_length(title);
        req.body = json_string_value(body);
        req.body_len = json_string_length(body);
        canned_save(rooms, &req, saved, c);
        return;
    }
    case CANNED_DELETE:
        canned_remove(rooms, &req, removed, c);
        return;
    }
}
