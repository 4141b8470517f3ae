/* The storage plugin as the core sees it across SDK minors: which optional
 * operations it has, and its structs read at the layout it was built with.
 * Every call of an operation added after ABI 1.0 goes through here. */
#ifndef CHATD_STORAGE_PORT_H
#define CHATD_STORAGE_PORT_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

struct plugin;

/* ABI 1.2 operations of p, or NULL when p was built for an older minor or
 * leaves them out. */
typedef void (*storage_close_fn)(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx);
typedef void (*storage_purge_fn)(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx);
typedef void (*storage_erase_fn)(void *state, const char *user, chatd_erase_cb cb, void *ctx);
storage_close_fn storage_room_close(const struct plugin *p);
storage_purge_fn storage_room_purge(const struct plugin *p);
storage_erase_fn storage_user_erase(const struct plugin *p);

/* Element i of an array of rooms p handed over, copied into *out with the
 * members added after p's minor zeroed: an older plugin's array has the
 * stride of its own, shorter struct. */
void storage_room_at(const struct plugin *p, const struct chatd_room *rooms, size_t i, struct chatd_room *out);

#endif
