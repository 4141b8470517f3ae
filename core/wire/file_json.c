#include "wire/file_json.h"

#include <stdio.h>

json_t *file_json(const struct chatd_file *f)
{
    char url[256];
    snprintf(url, sizeof url, "/api/rooms/%s/files/%s", f->room, f->id);
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:s}", "id", f->id, "room", f->room, "name", f->name,
                          "content_type", f->content_type, "size", (json_int_t)f->length, "created_at",
                          (json_int_t)f->created_ms, "url", url);
    if (j && f->width && f->height) {
        json_object_set_new(j, "width", json_integer(f->width));
        json_object_set_new(j, "height", json_integer(f->height));
    }
    return j;
}

char *file_message_body(const struct chatd_file *f, const char *caption)
{
    json_t *file = file_json(f);
    json_t *body = file ? json_pack("{s:s, s:o}", "text", caption && *caption ? caption : f->name, "file", file)
                        : NULL;
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    return text;
}
