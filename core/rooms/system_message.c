#include "rooms/system_message.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "plugins/storage_port.h"
#include "rooms/notices.h"

#define SYSTEM_CONTENT_TYPE "text/plain;charset=utf-8"

struct system_post {
    struct rooms *r;
    done_answer_cb cb;
    void *ctx;
    char *room, *sender, *text;
    char **members;
    size_t nmembers;
    chatd_room_kind kind;
};

static void post_free(struct system_post *p)
{
    for (size_t i = 0; i < p->nmembers; i++)
        free(p->members[i]);
    free(p->members);
    free(p->room);
    free(p->sender);
    free(p->text);
    free(p);
}

static void stored_cb(void *ctx, chatd_status st, const struct chatd_message *stored)
{
    struct system_post *p = ctx;
    struct room_answer a = room_answer_of(st, "no such room");
    if (st == CHATD_OK && stored) {
        struct chatd_message m = {.size = sizeof m, .room = p->room, .seq = stored->seq, .id = stored->id,
                                  .sender = p->sender, .ts_ms = stored->ts_ms, .body = p->text,
                                  .body_len = strlen(p->text), .content_type = SYSTEM_CONTENT_TYPE,
                                  .kind = CHATD_MESSAGE_SYSTEM};
        /* A trace as a client's SEND gets one: it names the message in logs. */
        char trace[48];
        int w = snprintf(trace, sizeof trace, "sys:%s:%llu", p->room, (unsigned long long)stored->seq);
        if (w < 0 || (size_t)w >= sizeof trace || w > 40)
            snprintf(trace, sizeof trace, "sys:%llu", (unsigned long long)stored->seq);
        p->r->events.message(p->r->events.ctx, &m, SYSTEM_CONTENT_TYPE, trace, 0);
        struct chatd_room room = {.id = p->room, .kind = p->kind, .members = (const char *const *)p->members,
                                  .nmembers = p->nmembers};
        notices_for_message(p->r, &room, &m, SYSTEM_CONTENT_TYPE);
    }
    p->cb(p->ctx, &a);
    post_free(p);
}

void system_message_post(struct rooms *r, const struct chatd_room *room, const char *sender, const char *text,
                         done_answer_cb cb, void *ctx)
{
    struct system_post *p = calloc(1, sizeof *p);
    bool ok = p && (p->room = strdup(room->id)) && (p->sender = strdup(sender)) && (p->text = strdup(text)) &&
              (p->members = calloc(room->nmembers ? room->nmembers : 1, sizeof *p->members));
    for (size_t i = 0; ok && i < room->nmembers; i++)
        ok = (p->members[p->nmembers++] = strdup(room->members[i])) != NULL;
    if (!ok) {
        if (p)
            post_free(p);
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"});
        return;
    }
    p->r = r;
    p->cb = cb;
    p->ctx = ctx;
    p->kind = room->kind;
    struct chatd_message m = {.room = p->room, .sender = p->sender, .ts_ms = clock_wall_ms(), .body = p->text,
                              .body_len = strlen(p->text), .content_type = SYSTEM_CONTENT_TYPE,
                              .kind = CHATD_MESSAGE_SYSTEM};
    void *state;
    storage_ops(r->storage, &state)->message_append(state, &m, stored_cb, p);
}
