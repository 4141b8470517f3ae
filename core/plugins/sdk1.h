/* Plugins of SDK 1.0 to 1.2, as the 2.x host still loads them. SDK 2.0 put
 * a leading `size` in front of every data struct and kept every member of
 * 1.2 after it in the same order, so a 1.x struct is the 2.0 struct minus
 * its first member: SDK1_BODY() is where the 1.x bytes go. The descriptor
 * gained `size` after its version numbers; struct sdk1_descriptor is the
 * 1.x one. Ops tables and struct chatd_host are laid out as in 1.2. */
#ifndef CHATD_SDK1_H
#define CHATD_SDK1_H

#include <stddef.h>

#include <chatd/plugin.h>

/* The last minor of SDK 1. */
#define SDK1_LAST_MINOR 2

struct sdk1_descriptor {
    uint32_t abi_major;
    uint32_t abi_minor;
    chatd_plugin_kind kind;
    const char *name;
    const char *version;
    const char *description;
    chatd_status (*init)(const struct chatd_host *host, void **state);
    void (*fini)(void *state);
    const void *ops;
};

/* The bytes of a 2.x struct that a 1.x plugin knows: all but `size`. */
#define SDK1_SKIP sizeof(size_t)
#define SDK1_BODY(s) ((void *)((char *)(s) + SDK1_SKIP))
#define SDK1_CBODY(s) ((const void *)((const char *)(s) + SDK1_SKIP))

/* sizeof the 1.x struct of a plugin of SDK 1.`minor`. */
#define SDK1_SIZE(type) (sizeof(struct type) - SDK1_SKIP)
static inline size_t sdk1_room_size(uint32_t minor)
{
    /* 1.2 appended admins, nadmins and closed_ms. */
    return minor >= 2 ? SDK1_SIZE(chatd_room) : offsetof(struct chatd_room, admins) - SDK1_SKIP;
}
/* A 1.x message: 2.0's members after size (2.1 appended content_type). */
#define SDK1_MESSAGE_SIZE (offsetof(struct chatd_message, body_len) + sizeof(size_t) - SDK1_SKIP)

#endif
