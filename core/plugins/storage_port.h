/* The storage plugin as the core reads it: what a plugin hands back is
 * read with the struct sizes of the SDK minor it was built for, and the
 * operations of a later minor are offered only by plugins that have them. */
#ifndef CHATD_STORAGE_PORT_H
#define CHATD_STORAGE_PORT_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

struct plugin;

/* The storage plugin's ops table, and in *state the state to call it with. */
const struct chatd_storage_ops *storage_ops(const struct plugin *p, void **state);

/* Room i of an array of rooms that plugin p answered with (i = 0 for a
 * single room), as a whole struct of this SDK: the fields of a minor later
 * than p's are zero. The strings still belong to the plugin's answer. */
struct chatd_room storage_room(const struct plugin *p, const struct chatd_room *rooms, size_t i);

/* Whether p stores group roles (SDK 1.2 group_change). */
bool storage_has_group_change(const struct plugin *p);

/* SDK 1.2 transcripts operations of p, or NULL when p was built for an
 * older minor or leaves them out. */
typedef void (*storage_close_fn)(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx);
typedef void (*storage_purge_fn)(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx);
typedef void (*storage_erase_fn)(void *state, const char *user, chatd_erase_cb cb, void *ctx);
storage_close_fn storage_room_close(const struct plugin *p);
storage_purge_fn storage_room_purge(const struct plugin *p);
storage_erase_fn storage_user_erase(const struct plugin *p);

#endif
