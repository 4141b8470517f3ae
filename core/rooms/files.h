/* Attachments as the rooms see them: who may put a file into a room and
 * who may read one, what type a file is (its bytes, not the client's
 * word), the quota per user, and the files that leave with their room or
 * their owner. The bytes themselves go through the files port
 * (plugins/files_port.h); this module decides. Answers as rooms.h says:
 * on the core thread, exactly once. */
#ifndef CHATD_ROOMS_FILES_H
#define CHATD_ROOMS_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/rooms.h"

/* [files] as the server reads it (settings.h). */
struct files_policy {
    size_t max_size;          /* bytes of one file */
    char *const *types;       /* allowed bare media types */
    size_t ntypes;
    size_t quota;             /* bytes one owner may store; 0 = none */
};

/* What a file's first bytes make of a client's claim. */
enum file_type_verdict {
    FILE_TYPE_OK,          /* *type is the file's type */
    FILE_TYPE_UNKNOWN,     /* the bytes are none of the types chatd recognises */
    FILE_TYPE_NOT_ALLOWED, /* they are, but [files] allowed_types leaves it out */
    FILE_TYPE_MISMATCH,    /* the client said another type than the bytes show */
};

/* The type of a file whose first n bytes are head (whole: the whole file)
 * and whose client said declared (a Content-Type; NULL, blank or
 * application/octet-stream: "look at the bytes"). *type: a static string;
 * *width and *height: an image's size, or 0. */
enum file_type_verdict files_type_check(const struct files_policy *p, const char *declared, const unsigned char *head,
                                        size_t n, bool whole, const char **type, uint32_t *width, uint32_t *height);

/* The answer of files_may_upload: OK (used: what the owner stores now),
 * NOT_FOUND (no room the user is in), CONFLICT (a read-only support
 * room), LIMIT with over_quota (used + length would pass the quota),
 * UNAVAILABLE/NOMEM. */
typedef void (*files_upload_cb)(void *ctx, const struct room_answer *a, bool over_quota, uint64_t used);
/* Whether `user` may put a file of `length` bytes into room_id. */
void files_may_upload(struct rooms *r, const char *room_id, const char *user, uint64_t length, files_upload_cb cb,
                      void *ctx);

/* The answer of files_may_read: OK with the file (borrowed for the call),
 * NOT_FOUND (no room the user reads, or no such file of that room). */
typedef void (*files_read_cb)(void *ctx, const struct room_answer *a, const struct chatd_file *f);
/* Whether `user` (roles) may read file_id of room_id: whoever reads the
 * room's history (room_can_see). */
void files_may_read(struct rooms *r, const char *room_id, const char *user, uint32_t roles, const char *file_id,
                    files_read_cb cb, void *ctx);

/* A room was deleted, a user erased: their files go (logged, nobody
 * waits). No-ops without a files plugin. */
void files_forget_room(struct rooms *r, const char *room_id);
void files_forget_owner(struct rooms *r, const char *user);
/* Shutdown, once the files plugin is unloaded: the removals it never
 * answered are forgotten (logged). */
void files_forget_drop(struct rooms *r);

#endif
