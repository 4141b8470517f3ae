/* A support room's transcript written for download: JSON (the room's
 * metadata and every message as the history API writes it) or plain
 * UTF-8 text (a few header lines, then one line per message, times in
 * UTC ISO 8601). Fed as the rooms domain reads it (rooms/transcript.h);
 * docs/rest-api.md, "Transcripts". */
#ifndef CHATD_TRANSCRIPT_RENDER_H
#define CHATD_TRANSCRIPT_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

struct transcript_render;

/* A new, empty document (text: plain text, else JSON); NULL when out of
 * memory. */
struct transcript_render *transcript_render_new(bool text);
/* The room, once, before its messages (copied). */
void transcript_render_room(struct transcript_render *t, const struct chatd_room *r);
/* Messages, oldest first, appended (copied). */
void transcript_render_messages(struct transcript_render *t, const struct chatd_message *msgs, size_t n);
/* The whole document, now the caller's (free()), its length in *len;
 * truncated: the reader stopped at the bound. NULL when out of memory. */
char *transcript_render_take(struct transcript_render *t, bool truncated, size_t *len);
void transcript_render_free(struct transcript_render *t);
/* The Unix ms time as UTC ISO 8601 with milliseconds
 * ("2026-12-05T08:34:01.123Z") into out (at least 32 bytes). */
void transcript_time(char *out, size_t len, int64_t ms);

#endif
