/* One session's room messages, kept in the order the session sent them.
 *
 * A room SEND is two storage calls: room_get (is the sender a member, is the
 * room open?), then message_append. A storage plugin stores the appends to
 * one room in the order they are called, but it may answer the room_gets of
 * one session's SENDs in any order (storage-postgres sends a room's reads to
 * whichever connection is least busy). So each SEND takes a ticket in its
 * session's line when it arrives, and two of its steps wait for their turn:
 *
 *  - its append is called once every earlier SEND of the session has called
 *    its own, or left the line;
 *  - its stored message is published once every earlier SEND of the session
 *    has been published, or left the line.
 *
 * A SEND that fails at any step leaves the line, so it never holds up the
 * ones behind it. A line lives while it holds a ticket, independently of its
 * session: storage may answer after the session is gone. Core thread only. */
#ifndef CHATD_SEND_ORDER_H
#define CHATD_SEND_ORDER_H

#include <stddef.h>
#include <stdint.h>

struct send_order;
struct send_ticket;

/* A step's work; arg is the caller's. */
typedef void (*send_step_fn)(void *arg);

/* NULL when out of memory. */
struct send_order *send_order_new(void);
/* Frees every line and ticket still there (answers that never came). */
void send_order_free(struct send_order *o);

/* A ticket at the end of the line of `session`, or NULL when out of memory. */
struct send_ticket *send_order_enter(struct send_order *o, uint64_t session);

/* t's room was looked up: append(arg) runs at t's turn, which is now or
 * later, from inside another ticket's send_order_* call. */
void send_order_append(struct send_ticket *t, send_step_fn append, void *arg);

/* t's message is stored: publish(arg) runs at t's turn, now or later. t is
 * gone once publish is called: publish must not name it any more. */
void send_order_publish(struct send_ticket *t, send_step_fn publish, void *arg);

/* t leaves the line without another step: its SEND failed, or was done
 * without a publication. t is gone; any step it waited for never runs. */
void send_order_leave(struct send_ticket *t);

/* Sessions that have a line now (tests and diagnostics). */
size_t send_order_lines(const struct send_order *o);

#endif
