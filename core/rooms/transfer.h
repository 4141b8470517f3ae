/* A support room handed on: its agent (or a supervisor or an admin) gives
 * it to another agent, or back to the unassigned queue, with an optional
 * note for the agents. The storage makes the change only while the room is
 * still assigned to the agent the caller saw (room_transfer, SDK 2.3); the
 * customer reads a system message in the room, history stays whole. A
 * supervisor also gives a room waiting in the queue to an agent: a claim
 * on the agent's behalf (room_claim), told as a claim, without the note.
 * docs/support-desk.md, "Transfer" and "Supervisors". */
#ifndef CHATD_TRANSFER_H
#define CHATD_TRANSFER_H

#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

/* Bytes of a transfer note. */
#define TRANSFER_NOTE_MAX 1000

/* Every pointer borrowed for the call. */
struct transfer_request {
    const char *room_id;
    const char *user;   /* the caller */
    uint32_t roles;     /* the caller's */
    const char *to;     /* an agent; NULL: back to the unassigned queue */
    const char *note;   /* UTF-8, at most TRANSFER_NOTE_MAX bytes; may be NULL */
    size_t note_len;
};

/* OK with the room as it now is. BAD_REQUEST: a note too long or not
 * UTF-8, `to` the room's agent already, a room that is no support room;
 * FORBIDDEN: the caller is not an agent, or neither the room's agent nor a
 * supervisor or admin; NOT_FOUND: no such room (or one the caller may not
 * see), `to` no agent this instance has heard of; CONFLICT: the room is
 * not assigned (completed, closed; waiting, unless a supervisor gives it
 * to an agent), was handed on or claimed meanwhile, or `to` is offline;
 * NOT_SUPPORTED: the storage plugin lacks room_transfer. */
void support_transfer(struct rooms *r, const struct transfer_request *req, room_answer_cb cb, void *ctx);

#endif
