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

#include "rooms/rooms.h"

/* The one desk there is: support rooms have no desk or topic of their own
 * yet, so every agent shares it. The storage keys replies by desk, so
 * desks of their own need no new storage operation. */
#define CANNED_DESK "default"
/* Code points of a shortcut (without its leading '/'). */
#define CANNED_SHORTCUT_CHARS 32
#define CANNED_TITLE_MAX CHATD_CANNED_TITLE_MAX
#define CANNED_BODY_MAX CHATD_CANNED_BODY_MAX
/* Replies one desk holds at most (the storage counts, atomically). */
#define CANNED_PER_DESK 500

/* The shortcut in[0..len) as stored, into out (at least
 * CHATD_CANNED_SHORTCUT_MAX + 1 bytes): one leading '/' dropped, ASCII
 * A-Z made a-z. True when it is one: valid UTF-8 of 1 to
 * CANNED_SHORTCUT_CHARS code points with no white space, no control
 * character and none of / ? # % \ " (so it is one word in a message and
 * one segment of a URL); else false with the reason in *why. */
bool canned_shortcut_normal(const char *in, size_t len, char *out, const char **why);
/* Whether a title (1 to CANNED_TITLE_MAX bytes of UTF-8, no control
 * character: one line) or a body (1 to CANNED_BODY_MAX bytes of UTF-8; line
 * breaks and tabs, no other control character) is acceptable; else the
 * reason in *why. */
bool canned_title_ok(const char *s, size_t len, const char **why);
bool canned_body_ok(const char *s, size_t len, const char **why);

/* Whether the caller may read the desk's replies (an agent or an admin)
 * and change them (an admin; an agent too when agents_write). */
bool canned_may_read(uint32_t roles);
bool canned_may_write(uint32_t roles, bool agents_write);

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
