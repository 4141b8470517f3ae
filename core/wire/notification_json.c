#include "wire/notification_json.h"

#include <jansson.h>

#include "wire/room_json.h"

char *notification_json(const struct notification_event *e)
{
    json_t *body = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:o, s:I, s:I}", "event", "message",
                             "recipient", e->recipient, "room", e->room, "room_kind", room_kind_name(e->room_kind),
                             "message_id", e->message_id, "seq", (json_int_t)e->seq, "sender", e->sender, "preview",
                             e->preview, "content_type", e->content_type, "kind", room_message_kind_name(e->kind),
                             "reply_to", e->reply_to ? json_integer((json_int_t)e->reply_to) : json_null(),
                             "unread", (json_int_t)e->unread, "messages", (json_int_t)e->messages);
    char *json = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return json;
}
