/* A support desk's canned replies: saved answers its agents insert by a
 * shortcut ("/refund"), stored by the storage plugin (SDK 2.8
 * canned_put, canned_delete, canned_list). Agents and admins read them;
 * admins change them, and agents too when [support] canned_writers =
 * agents. docs/support-desk.md, "Canned replies". */
#ifndef CHATD_CANNED_REPLIES_H
#define CHATD_CANNED_REPLIES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/canned_rules.h"
#include "rooms/rooms.h"

/* Every pointer borrowed for the call; lengths in bytes. */
struct canned_request {
    const char *user; /* the caller */
    uint32_t roles;   /* the caller's */
    const char *shortcut;
    size_t shortcut_len;
    const char *title; /* canned_save only */
    size_t title_len;
    const char *body;  /* canned_save only */
    size_t body_len;
};

/* The desk's replies by shortcut (byte order), all of them (at most
 * CANNED_PER_DESK). replies valid during the call. */
typedef void (*canned_list_cb)(void *ctx, const struct room_answer *a, const struct chatd_canned_reply *replies,
                               size_t n);
/* OK: FORBIDDEN for a caller who is no agent or admin; NOT_SUPPORTED
 * without the storage's canned replies. */
void canned_list(struct rooms *r, uint32_t roles, canned_list_cb cb, void *ctx);

/* What was stored (created: a new shortcut). */
typedef void (*canned_saved_cb)(void *ctx, const struct room_answer *a, const struct chatd_canned_reply *saved,
                                bool created);
/* Create or replace the reply of req->shortcut, updated_by the caller,
 * now. BAD_REQUEST: a shortcut, title or body that is not acceptable;
 * FORBIDDEN: a caller who may not write; CONFLICT: a new shortcut while
 * the desk holds CANNED_PER_DESK; NOT_SUPPORTED. */
void canned_save(struct rooms *r, const struct canned_request *req, canned_saved_cb cb, void *ctx);
/* Remove the reply of req->shortcut: OK; NOT_FOUND when there is none;
 * BAD_REQUEST, FORBIDDEN, NOT_SUPPORTED as for canned_save. */
void canned_remove(struct rooms *r, const struct canned_request *req, done_answer_cb cb, void *ctx);

#endif
