#include "storage_port.h"

#include <string.h>

#include "loader.h"

/* sizeof struct chatd_room as ABI 1.0 and 1.1 defined it: it ended with
 * last_message (its alignment has not changed since). */
#define ROOM_END_1_1 (offsetof(struct chatd_room, last_message) + sizeof(const struct chatd_message *))
#define ROOM_ALIGN _Alignof(struct chatd_room)
#define ROOM_SIZE_1_1 ((ROOM_END_1_1 + ROOM_ALIGN - 1) / ROOM_ALIGN * ROOM_ALIGN)

static const struct chatd_storage_ops *ops_of_minor(const struct plugin *p, uint32_t minor)
{
    return plugin_has_minor(p, minor) ? p->desc->ops.storage : NULL;
}

storage_close_fn storage_room_close(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_close) ? o->room_close : NULL;
}

storage_purge_fn storage_room_purge(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, room_purge) ? o->room_purge : NULL;
}

storage_erase_fn storage_user_erase(const struct plugin *p)
{
    const struct chatd_storage_ops *o = ops_of_minor(p, 2);
    return o && OPS_HAS(o, user_erase) ? o->user_erase : NULL;
}

void storage_room_at(const struct plugin *p, const struct chatd_room *rooms, size_t i, struct chatd_room *out)
{
    if (plugin_has_minor(p, 2)) {
        *out = rooms[i];
        return;
    }
    memset(out, 0, sizeof *out);
    memcpy(out, (const char *)rooms + i * ROOM_SIZE_1_1, ROOM_END_1_1);
}
