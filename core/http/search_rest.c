#include "http/search_rest.h"

#include <string.h>

#include "http/rest_call.h"
#include "rooms/search.h"
#include "server.h"
#include "wire/jsonw.h"
#include "wire/query.h"
#include "wire/room_json.h"

static void found(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                  const char *next)
{
    struct rest_call *c = ctx;
    if (a->status != ROOM_OK) {
        rest_room_error(c, a);
        return;
    }
    struct jsonw w = {0};
    jsonw_raw(&w, "{\"messages\":[", 13);
    for (size_t i = 0; i < n; i++) {
        if (i)
            jsonw_raw(&w, ",", 1);
        room_message_jsonw(&w, &msgs[i]);
    }
    jsonw_raw(&w, "]", 1);
    jsonw_key(&w, "next_cursor", false);
    if (next)
        jsonw_str(&w, next, strlen(next));
    else
        jsonw_raw(&w, "null", 4);
    jsonw_raw(&w, "}", 1);
    size_t len = 0;
    char *text = jsonw_take(&w, &len);
    rest_respond_text(c, 200, text, len);
}

void search_rest(struct rest_call *c, const char *room)
{
    char q[SEARCH_QUERY_MAX_BYTES + 2], cur[SEARCH_CURSOR_MAX + 2], lim[32];
    const char *qs = rest_query(c, "q", q, sizeof q);
    const char *cs = rest_query(c, "cursor", cur, sizeof cur);
    const char *ls = rest_query(c, "limit", lim, sizeof lim);
    if (qs && strlen(qs) > SEARCH_QUERY_MAX_BYTES) {
        rest_error(c, 400, "bad_request", "q is at most %d bytes", SEARCH_QUERY_MAX_BYTES);
        return;
    }
    if (cs && strlen(cs) > SEARCH_CURSOR_MAX) {
        rest_error(c, 400, "bad_request", "cursor is none this search gave");
        return;
    }
    struct search_request req = {.query = qs, .room_id = room, .user = c->user, .roles = c->roles,
                                 .cursor = cs && *cs ? cs : NULL, .limit_set = ls != NULL};
    req.limit_malformed = ls && !query_u64(ls, &req.limit);
    search_messages(c->srv->rooms, &req, found, c);
}
