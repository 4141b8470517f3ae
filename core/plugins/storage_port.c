#include "plugins/storage_port.h"

#include <string.h>

#include "plugins/loader.h"

const struct chatd_storage_ops *storage_ops(const struct plugin *p, void **state)
{
    *state = p->state;
    return p->desc->ops.storage;
}

/* sizeof(struct chatd_room) as a plugin of each minor built it: the fields
 * up to the first one a later minor added. */
static size_t room_size(const struct plugin *p)
{
    if (plugin_has_minor(p, 2))
        return sizeof(struct chatd_room);
    return offsetof(struct chatd_room, admins);
}

struct chatd_room storage_room(const struct plugin *p, const struct chatd_room *rooms, size_t i)
{
    struct chatd_room r;
    memset(&r, 0, sizeof r);
    size_t size = room_size(p);
    memcpy(&r, (const char *)rooms + i * size, size);
    return r;
}

bool storage_has_group_change(const struct plugin *p)
{
    return plugin_has_minor(p, 2) && OPS_HAS(p->desc->ops.storage, group_change);
}

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
