/* A file as clients see it in JSON: the upload's answer and the body of a
 * `file` message (docs/files.md). One encoding for REST, events, history
 * and notifications. */
#ifndef CHATD_FILE_JSON_H
#define CHATD_FILE_JSON_H

#include <jansson.h>

#include <chatd/plugin.h>

/* {"id","room","name","content_type","size","created_at","url"} and, for
 * images, "width" and "height". NULL when out of memory. */
json_t *file_json(const struct chatd_file *f);

/* The stored body of a `file` message: {"text": caption, or the file's
 * name when caption is NULL or empty, "file": file_json(f)}, as compact
 * JSON text (malloc'd; NULL when out of memory). */
char *file_message_body(const struct chatd_file *f, const char *caption);

#endif
