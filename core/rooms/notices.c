#include "rooms/notices.h"

#include <stdlib.h>
#include <string.h>

#include "rooms/message_body.h"
#include "rooms/preview.h"

void notices_for_message(struct rooms *r, const struct chatd_room *room, const struct chatd_message *m,
                         const char *content_type)
{
    const struct room_events_port *ev = &r->events;
    const struct room_presence_port *who = &r->presence;
    char *text = NULL, *preview = NULL;
    size_t text_len = 0;
    bool made = false;
    for (size_t i = 0; i < room->nmembers; i++) {
        const char *member = room->members[i];
        if (strcmp(member, m->sender) == 0)
            continue;
        if (who->watching(who->ctx, member, room->id))
            continue;
        /* One preview for all, made when the first member needs it. */
        if (!made) {
            made = true;
            text = r->bodies->text(content_type, m->body, m->body_len, &text_len);
            preview = text ? preview_make(text, text_len, r->preview_chars) : NULL;
        }
        if (!preview) {
            ev->notice_failed(ev->ctx, member, room->id, "message", "no preview: out of memory or a body not checked");
            continue;
        }
        if (who->online(who->ctx, member))
            ev->message_notice(ev->ctx, room, m, member, preview);
        else
            ev->message_offline(ev->ctx, room, m, member, text, text_len, preview);
    }
    free(text);
    free(preview);
}
