/* The storage plugin as the core calls it. The port stands between the
 * two on every call: what the core hands over goes out with its `size`
 * set (in the 1.x layout to a plugin of SDK 1), what the plugin answers is
 * read at the plugin's own stride and size into this SDK's structs (the
 * members it does not have are zero), and an answer given before the
 * plugin's call returned, or inside any other call to it, is refused
 * (CHATD_ERR_INTERNAL, later). So the core's callbacks never run inside a
 * call to the port, get plain C arrays, and may call the port again. The optional operations
 * are offered only by plugins that have them. Core thread only. */
#ifndef CHATD_STORAGE_PORT_H
#define CHATD_STORAGE_PORT_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

struct plugin;

/* The storage operations, and in *state the state to call them with. The
 * core fills the structs it hands over as this SDK declares them; their
 * `size` is the port's to set. */
const struct chatd_storage_ops *storage_ops(const struct plugin *p, void **state);

/* Room i of an array of rooms that plugin p answered with (i = 0 for a
 * single room), as a whole struct of this SDK: the members p's SDK does not
 * have are zero. The strings still belong to the plugin's answer. */
struct chatd_room storage_room(const struct plugin *p, const struct chatd_room *rooms, size_t i);

/* Whether p stores group roles (group_change). */
bool storage_has_group_change(const struct plugin *p);

/* The transcripts operations of p (called with the state storage_ops
 * gives), or NULL when p was built for SDK 1.0/1.1 or leaves them out. */
typedef void (*storage_close_fn)(void *state, const char *room_id, int64_t now_ms, chatd_room_cb cb, void *ctx);
typedef void (*storage_purge_fn)(void *state, int64_t closed_before_ms, size_t limit, chatd_count_cb cb, void *ctx);
typedef void (*storage_erase_fn)(void *state, const char *user, chatd_erase_cb cb, void *ctx);
storage_close_fn storage_room_close(const struct plugin *p);
storage_purge_fn storage_room_purge(const struct plugin *p);
/* The purge that names the rooms it removed (SDK 2.11), or NULL. */
typedef void (*storage_purge_ids_fn)(void *state, int64_t closed_before_ms, size_t limit, chatd_ids_cb cb,
                                     void *ctx);
storage_purge_ids_fn storage_room_purge_ids(const struct plugin *p);
/* SDK 2.13: the room and a page of its history in one call, or NULL when
 * the plugin has no room_page (the core then looks the room up first). */
typedef void (*storage_room_page_fn)(void *state, const char *room_id, uint64_t before, uint64_t after, size_t limit,
                                     chatd_room_page_cb cb, void *ctx);
storage_room_page_fn storage_room_page(const struct plugin *p);
storage_erase_fn storage_user_erase(const struct plugin *p);

/* Whether p edits and deletes messages (SDK 2.2 message_edit and
 * message_revisions); without, the port answers both CHATD_ERR_UNSUPPORTED. */
bool storage_has_message_edit(const struct plugin *p);

/* SDK 2.3, the support desk: whether p claims under an agent's limit
 * (room_claim_limited), hands rooms on (room_transfer), opens completed
 * rooms again (room_reopen); without, the port answers each
 * CHATD_ERR_UNSUPPORTED. */
bool storage_has_claim_limited(const struct plugin *p);
bool storage_has_transfer(const struct plugin *p);
bool storage_has_reopen(const struct plugin *p);

/* SDK 2.5: whether p keeps reactions (reaction_change and reaction_list);
 * without, the port answers both CHATD_ERR_UNSUPPORTED. */
bool storage_has_reactions(const struct plugin *p);

/* SDK 2.6: whether p keeps customers' ratings (room_rate); without, the
 * port answers it CHATD_ERR_UNSUPPORTED. */
bool storage_has_rate(const struct plugin *p);

/* Whether p searches messages (SDK 2.4 message_search); without, the port
 * answers it CHATD_ERR_UNSUPPORTED. */
bool storage_has_message_search(const struct plugin *p);

/* SDK 2.8: whether p keeps canned replies (canned_put, canned_delete and
 * canned_list); without, the port answers them CHATD_ERR_UNSUPPORTED. */
bool storage_has_canned(const struct plugin *p);

#endif
