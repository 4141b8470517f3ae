/* Attachments over REST (docs/files.md): POST /api/rooms/{room}/files, its
 * body streamed to the files plugin as it arrives, and GET
 * /api/rooms/{room}/files/{file} with ranges, streamed to the client as
 * the plugin reads it, a bounded window at a time. The rules (who, which type,
 * the quota) are rooms/files.h's; this is the HTTP side: pieces of a body,
 * back-pressure, headers. */
#ifndef CHATD_FILES_REST_H
#define CHATD_FILES_REST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rest_call;
struct server;

enum files_request {
    FILES_UPLOAD = 1, /* POST /api/rooms/{room}/files */
    FILES_DOWNLOAD,   /* GET /api/rooms/{room}/files/{file} */
};

/* An upload's request arrived (before its credentials are checked): from
 * now on its body's pieces are kept for it. */
void files_rest_upload_open(struct server *srv, uint64_t id);
/* Its credentials were refused (the front door answered): its pieces are
 * dropped from now on. */
void files_rest_upload_refused(struct server *srv, uint64_t id);
/* A piece of an upload's body (data: malloc'd, now this module's), its end,
 * or the client gone before it. */
void files_rest_body(struct server *srv, uint64_t id, char *data, size_t len, bool end, bool aborted);
/* A download's response: `bytes` more of its body were written to the
 * client (its window moves on). */
void files_rest_sent(struct server *srv, uint64_t id, size_t bytes);
/* The client of request `id` went away before its answer was written:
 * a download under way stops. Other requests: nothing. */
void files_rest_gone(struct server *srv, uint64_t id);
/* An authenticated request: c is answered (and freed) later. */
void files_rest(struct rest_call *c, enum files_request what, const char *room, const char *file);
/* Shutdown: uploads and downloads under way are dropped, unanswered. */
void files_rest_drop_all(struct server *srv);

#endif
