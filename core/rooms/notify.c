#include "rooms/notify.h"

#include "rooms/message_body.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "plugins/loader.h"
#include "log.h"
#include "server.h"
#include "plugins/notify_port.h"
#include "plugins/storage_port.h"
#include "strmap.h"

/* What a notification says of the message it is about (its newest, for
 * a coalesced burst), owned. */
struct about {
    chatd_room_kind room_kind;
    chatd_message_kind kind;
    uint64_t seq, reply_to;
    char *message_id, *sender, *preview, *content_type;
};

static void about_free(struct about *a)
{
    free(a->message_id);
    free(a->sender);
    free(a->preview);
    free(a->content_type);
}

/* a becomes a copy of message m of a room of kind room_kind (its preview
 * and content type given); false, a unchanged, when out of memory. */
static bool about_set(struct about *a, chatd_room_kind room_kind, const struct chatd_message *m, const char *preview,
                      const char *content_type)
{
    struct about b = {.room_kind = room_kind, .kind = m->kind, .seq = m->seq, .reply_to = m->reply_to,
                      .message_id = strdup(m->id), .sender = strdup(m->sender), .preview = strdup(preview),
                      .content_type = strdup(content_type)};
    if (!b.message_id || !b.sender || !b.preview || !b.content_type) {
        about_free(&b);
        return false;
    }
    about_free(a);
    *a = b;
    return true;
}

static bool about_copy(struct about *a, const struct about *from)
{
    struct chatd_message m = {.kind = from->kind, .seq = from->seq, .reply_to = from->reply_to,
                              .id = from->message_id, .sender = from->sender};
    return about_set(a, from->room_kind, &m, from->preview, from->content_type);
}

/* One notification on its way: waiting for the recipient's unread count. */
struct dispatch {
    struct dispatch *prev, *next;
    struct notifier *n;
    struct about about;
    size_t messages; /* how many messages it stands for (coalescing) */
    char *recipient, *room;
};

/* A coalescing window of one recipient in one room: the first message is
 * notified at once; later ones wait for the window's end and go out as one
 * notification about the newest. */
struct window {
    struct notifier *n;
    char *key;
    struct event *timer;
    size_t held; /* messages since the last notification */
    struct about about; /* the newest of them */
    char *recipient, *room;
};

struct notifier {
    struct server *srv;
    notification_encoder encode;
    struct strmap windows; /* "recipient US room" -> struct window */
    struct dispatch *inflight;
};

void notify_failed(struct server *srv, const char *recipient, const char *room, const char *event, const char *why)
{
    srv->metrics.notifications_failed++;
    log_warn("notification %s of room %s for %s dropped: %s", event, room, recipient, why);
}

static bool name_char(unsigned char c)
{
    return c == '_' || c == '-' || c == '.' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c >= 0x80;
}

bool notify_mentions(const char *text, size_t len, const char *user)
{
    size_t ul = strlen(user);
    if (!ul)
        return false;
    for (size_t i = 0; i + 1 + ul <= len; i++) {
        if (text[i] != '@' || (i > 0 && name_char((unsigned char)text[i - 1])))
            continue;
        if (memcmp(text + i + 1, user, ul) == 0 && (i + 1 + ul == len || !name_char((unsigned char)text[i + 1 + ul])))
            return true;
    }
    return false;
}

static void dispatch_free(struct dispatch *d)
{
    free(d->recipient);
    free(d->room);
    about_free(&d->about);
    free(d);
}

static void dispatch_unlink(struct dispatch *d)
{
    if (d->prev)
        d->prev->next = d->next;
    else
        d->n->inflight = d->next;
    if (d->next)
        d->next->prev = d->prev;
}

static void dispatch_send(struct dispatch *d, uint64_t unread)
{
    struct server *srv = d->n->srv;
    const struct about *a = &d->about;
    const struct notification_event e = {.recipient = d->recipient, .room = d->room, .room_kind = a->room_kind,
                                         .message_id = a->message_id, .seq = a->seq, .sender = a->sender,
                                         .preview = a->preview, .content_type = a->content_type, .kind = a->kind,
                                         .reply_to = a->reply_to, .unread = unread, .messages = d->messages};
    char *json = d->n->encode(&e);
    if (!json) {
        notify_failed(srv, d->recipient, d->room, "message", "not encoded as JSON");
        return;
    }
    struct chatd_notification note = {.recipient = d->recipient, .room = d->room, .room_kind = a->room_kind,
                                      .message_id = a->message_id, .seq = a->seq, .sender = a->sender,
                                      .preview = a->preview, .unread = unread, .json = json,
                                      .json_len = strlen(json)};
    for (size_t k = 0; k < srv->nnotify; k++)
        notify_port_send(srv->notify[k], &note);
    srv->metrics.notifications++;
    free(json);
}

static void unread_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    struct dispatch *d = ctx;
    dispatch_unlink(d);
    if (st == CHATD_ERR_NOT_FOUND) {
        dispatch_free(d); /* the room was closed meanwhile: nothing to read */
        return;
    }
    /* Without storage's answer, the messages this notification is about are
     * the best lower bound. */
    uint64_t unread = d->messages;
    if (st == CHATD_OK && room)
        unread = room->last_seq > room->read_seq ? room->last_seq - room->read_seq : 0;
    dispatch_send(d, unread);
    dispatch_free(d);
}

static void dispatch_start(struct notifier *n, const char *recipient, const char *room, const struct about *about,
                           size_t messages)
{
    struct dispatch *d = calloc(1, sizeof *d);
    if (d) {
        d->n = n;
        d->messages = messages;
        d->recipient = strdup(recipient);
        d->room = strdup(room);
    }
    if (!d || !d->recipient || !d->room || !about_copy(&d->about, about)) {
        if (d)
            dispatch_free(d);
        notify_failed(n->srv, recipient, room, "message", "out of memory");
        return;
    }
    d->next = n->inflight;
    if (n->inflight)
        n->inflight->prev = d;
    n->inflight = d;
    void *state;
    storage_ops(n->srv->storage, &state)->room_get(state, room, recipient, unread_cb, d);
}

static void window_free(struct window *w)
{
    if (w->timer)
        event_free(w->timer);
    free(w->key);
    free(w->recipient);
    free(w->room);
    about_free(&w->about);
    free(w);
}

static void window_end(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct window *w = arg;
    struct notifier *n = w->n;
    if (!w->held) {
        strmap_del(&n->windows, w->key);
        window_free(w);
        return;
    }
    /* A burst went on: one notification for it, and a new window, so a
     * steady stream yields one per window. */
    dispatch_start(n, w->recipient, w->room, &w->about, w->held);
    w->held = 0;
    long long ms = n->srv->settings.notify_coalesce_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    event_add(w->timer, &tv);
}

static void notify_about(struct notifier *n, const struct chatd_room *room, const char *recipient,
                         const struct about *about);

void notify_offline(struct notifier *n, const struct chatd_room *room, const struct chatd_message *m,
                    const char *recipient, const char *text, size_t text_len, const char *preview)
{
    const struct settings *set = &n->srv->settings;
    if (!n->srv->nnotify)
        return;
    bool by_kind = (set->notify_kinds >> room->kind) & 1u;
    if (!by_kind && !(set->notify_mentions && notify_mentions(text, text_len, recipient)))
        return;
    struct about about = {0};
    if (!about_set(&about, room->kind, m, preview, message_content_type(m->content_type, m->body, m->body_len))) {
        notify_failed(n->srv, recipient, room->id, "message", "out of memory");
        return;
    }
    notify_about(n, room, recipient, &about);
    about_free(&about);
}

/* One notification now, or held in the recipient's coalescing window. */
static void notify_about(struct notifier *n, const struct chatd_room *room, const char *recipient,
                         const struct about *about)
{
    const struct settings *set = &n->srv->settings;
    if (!set->notify_coalesce_ms) {
        dispatch_start(n, recipient, room->id, about, 1);
        return;
    }
    char key[600];
    if ((size_t)snprintf(key, sizeof key, "%s\x1f%s", recipient, room->id) >= sizeof key) {
        notify_failed(n->srv, recipient, room->id, "message", "recipient name too long");
        return;
    }
    struct window *w = strmap_get(&n->windows, key);
    if (w) {
        if (about_copy(&w->about, about)) {
            w->held++;
            n->srv->metrics.notifications_coalesced++;
        } else {
            notify_failed(n->srv, recipient, room->id, "message", "out of memory");
        }
        return;
    }
    w = calloc(1, sizeof *w);
    if (w) {
        w->n = n;
        w->key = strdup(key);
        w->recipient = strdup(recipient);
        w->room = strdup(room->id);
        w->timer = evtimer_new(n->srv->base, window_end, w);
    }
    long long ms = set->notify_coalesce_ms;
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    if (!w || !w->key || !w->recipient || !w->room || !w->timer || strmap_put(&n->windows, key, w) < 0) {
        if (w)
            window_free(w);
        /* Without a window, still notify: one too many beats none. */
        dispatch_start(n, recipient, room->id, about, 1);
        return;
    }
    event_add(w->timer, &tv);
    dispatch_start(n, recipient, room->id, about, 1);
}

struct notifier *notifier_new(struct server *srv, notification_encoder encode)
{
    struct notifier *n = calloc(1, sizeof *n);
    if (!n)
        return NULL;
    n->srv = srv;
    n->encode = encode;
    strmap_init(&n->windows);
    return n;
}

void notifier_free(struct notifier *n)
{
    if (!n)
        return;
    size_t pos = 0;
    const char *key;
    void *value;
    while (strmap_next(&n->windows, &pos, &key, &value))
        window_free(value);
    strmap_free(&n->windows);
    for (struct dispatch *d = n->inflight, *next; d; d = next) {
        next = d->next;
        dispatch_free(d);
    }
    free(n);
}
