#include "stomp/send_order.h"

#include <stdbool.h>
#include <stdlib.h>

#include "idmap.h"

enum ticket_state {
    T_LOOKUP,   /* its room is being looked up: nothing behind it appends */
    T_READY,    /* wants to append, at its turn */
    T_APPENDED, /* append called, waiting for storage */
    T_STORED,   /* wants to publish, at its turn */
    T_LEFT,     /* done with the line; unlinked when it reaches the front */
};

struct send_line;

struct send_ticket {
    struct send_ticket *next;
    struct send_line *line;
    enum ticket_state state;
    send_step_fn fn; /* the step it waits for */
    void *arg;
};

struct send_line {
    struct send_order *order;
    uint64_t session;
    struct send_ticket *head, *tail;
    bool running; /* line_run is on the stack: a nested call only asks again */
    bool again;
};

struct send_order {
    struct idmap lines; /* session id -> struct send_line */
};

struct send_order *send_order_new(void)
{
    struct send_order *o = calloc(1, sizeof *o);
    if (o)
        idmap_init(&o->lines);
    return o;
}

void send_order_free(struct send_order *o)
{
    if (!o)
        return;
    size_t pos = 0;
    uint64_t id;
    void *v;
    while (idmap_next(&o->lines, &pos, &id, &v)) {
        struct send_line *l = v;
        for (struct send_ticket *t = l->head, *next; t; t = next) {
            next = t->next;
            free(t);
        }
        free(l);
    }
    idmap_free(&o->lines);
    free(o);
}

struct send_ticket *send_order_enter(struct send_order *o, uint64_t session)
{
    struct send_ticket *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    struct send_line *l = idmap_get(&o->lines, session);
    if (!l) {
        if (!(l = calloc(1, sizeof *l)) || idmap_put(&o->lines, session, l) < 0) {
            free(l);
            free(t);
            return NULL;
        }
        l->order = o;
        l->session = session;
    }
    t->line = l;
    t->state = T_LOOKUP;
    if (l->tail)
        l->tail->next = t;
    else
        l->head = t;
    l->tail = t;
    return t;
}

/* Run every step whose turn came. Steps may call back into this module
 * (leave, enter, another step): only this loop unlinks tickets, so the
 * ones it holds stay valid, and a nested call only makes it look again. */
static void line_run(struct send_line *l)
{
    if (l->running) {
        l->again = true;
        return;
    }
    l->running = true;
    do {
        l->again = false;
        /* Appends in line order, up to the first ticket still looking up. */
        for (struct send_ticket *t = l->head; t && t->state != T_LOOKUP; t = t->next) {
            if (t->state == T_READY) {
                t->state = T_APPENDED;
                t->fn(t->arg);
            }
        }
        /* Publications from the front; what left is dropped on the way. */
        struct send_ticket *t;
        while ((t = l->head) && (t->state == T_STORED || t->state == T_LEFT)) {
            if (t->state == T_STORED) {
                t->state = T_LEFT;
                t->fn(t->arg);
            }
            if (!(l->head = t->next))
                l->tail = NULL;
            free(t);
        }
    } while (l->again);
    l->running = false;
    if (!l->head) {
        idmap_del(&l->order->lines, l->session);
        free(l);
    }
}

void send_order_append(struct send_ticket *t, send_step_fn append, void *arg)
{
    t->state = T_READY;
    t->fn = append;
    t->arg = arg;
    line_run(t->line);
}

void send_order_publish(struct send_ticket *t, send_step_fn publish, void *arg)
{
    t->state = T_STORED;
    t->fn = publish;
    t->arg = arg;
    line_run(t->line);
}

void send_order_leave(struct send_ticket *t)
{
    t->state = T_LEFT;
    line_run(t->line);
}

size_t send_order_lines(const struct send_order *o)
{
    return o->lines.count;
}
