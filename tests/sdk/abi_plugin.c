/* A notify plugin whose descriptor claims the SDK version it is built with
 * -DPLUGIN_ABI_MAJOR=... -DPLUGIN_ABI_MINOR=..., standing in for a plugin
 * compiled against the headers of another release. test_abi.py loads each
 * build: every minor of this major loads, older and newer; SDK 1.x (built
 * against the 1.1 headers of sdk-1.1/) loads through the host's adapter;
 * another major is refused.
 *
 * init checks what such a plugin relies on: the host speaks its major (an
 * SDK 1 plugin meets a host of 1.2) and hands a host struct at least as
 * large as the one these headers describe. A plugin that claims a newer
 * minor than the host's finds out from host->abi_minor / CHATD_HOST_HAS and
 * does without what the host lacks: it still starts. */
#include <chatd/plugin.h>

#define NEWER_THAN_HEADERS (PLUGIN_ABI_MAJOR == CHATD_ABI_MAJOR && PLUGIN_ABI_MINOR > CHATD_ABI_MINOR)

static chatd_status abi_init(const struct chatd_host *h, void **state)
{
    *state = NULL;
    if (h->abi_major != PLUGIN_ABI_MAJOR) {
        h->config_error(h, NULL, "host speaks %u.%u", (unsigned)h->abi_major, (unsigned)h->abi_minor);
        return CHATD_ERR_INVALID;
    }
    if (h->size < sizeof(struct chatd_host)) {
        h->config_error(h, NULL, "host struct is %zu bytes, expected at least %zu", h->size,
                        sizeof(struct chatd_host));
        return CHATD_ERR_INVALID;
    }
    /* "+ 1": built for minor 0, a plain `minor < 0` is "always false" to -Wextra. */
    if (h->abi_minor + 1ull < PLUGIN_ABI_MINOR + 1ull) {
        if (!NEWER_THAN_HEADERS) {
            h->config_error(h, NULL, "host speaks %u.%u", (unsigned)h->abi_major, (unsigned)h->abi_minor);
            return CHATD_ERR_INVALID;
        }
        h->log(h, CHATD_LOG_INFO, "host speaks %u.%u, older than %d.%d: doing without what %d.%d added",
               (unsigned)h->abi_major, (unsigned)h->abi_minor, PLUGIN_ABI_MAJOR, PLUGIN_ABI_MINOR,
               PLUGIN_ABI_MAJOR, PLUGIN_ABI_MINOR);
    }
    return CHATD_OK;
}

static void abi_fini(void *state)
{
    (void)state;
}

static void abi_notify(void *state, const struct chatd_notification *n)
{
    (void)state;
    (void)n;
}

static void abi_added_later(void)
{
}

/* A plugin of a newer minor has a longer ops table and a larger descriptor
 * than this host knows; their sizes say so, and the host reads no further. */
static const struct {
    struct chatd_notify_ops ops;
    void (*added_later)(void);
} abi_ops = {{
#if CHATD_ABI_MAJOR >= 2
                 NEWER_THAN_HEADERS ? sizeof abi_ops : sizeof abi_ops.ops,
#else
                 sizeof abi_ops.ops,
#endif
                 abi_notify},
             abi_added_later};

/* By hand: CHATD_PLUGIN_DEFINE always stamps the headers' own version. */
CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void);
CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void)
{
    static const struct {
        struct chatd_plugin d;
        const char *added_later;
    } d = {
        {
            .abi_major = PLUGIN_ABI_MAJOR,
            .abi_minor = PLUGIN_ABI_MINOR,
#if CHATD_ABI_MAJOR >= 2
            .size = NEWER_THAN_HEADERS ? sizeof d : sizeof d.d,
#endif
            .kind = CHATD_PLUGIN_NOTIFY,
            .name = "abi",
            .version = "0",
            .init = abi_init,
            .fini = abi_fini,
            .ops.notify = &abi_ops.ops,
        },
        "a member of a later minor",
    };
    return &d.d;
}
