/* What a desk's canned reply may be, and who may read or change them: plain
 * rules, no I/O (rooms/canned_replies.h carries them out through the
 * storage; the REST adapter, the unit tests and a fuzz target share them).
 * docs/support-desk.md, "Canned replies". */
#ifndef CHATD_CANNED_RULES_H
#define CHATD_CANNED_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chatd/plugin.h>

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

#endif
