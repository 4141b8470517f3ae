/* A notify plugin whose descriptor claims the SDK version it is built with
 * -DPLUGIN_ABI_MAJOR=... -DPLUGIN_ABI_MINOR=..., standing in for a plugin
 * compiled against the headers of another release. test_abi.py loads each
 * build: every minor up to the host's must load, another major must not.
 *
 * init checks what an older plugin relies on: the host speaks its major,
 * at least its minor, and hands a host struct at least as large as the one
 * these headers describe. */
#include <chatd/plugin.h>

static chatd_status abi_init(const struct chatd_host *h, void **state)
{
    *state = NULL;
    /* "+ 1": built for minor 0, a plain `minor < 0` is "always false" to -Wextra. */
    if (h->abi_major != PLUGIN_ABI_MAJOR || h->abi_minor + 1ull < PLUGIN_ABI_MINOR + 1ull) {
        h->config_error(h, NULL, "host speaks %u.%u", (unsigned)h->abi_major, (unsigned)h->abi_minor);
        return CHATD_ERR_INVALID;
    }
    if (h->size < sizeof(struct chatd_host)) {
        h->config_error(h, NULL, "host struct is %zu bytes, expected at least %zu", h->size,
                        sizeof(struct chatd_host));
        return CHATD_ERR_INVALID;
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

static const struct chatd_notify_ops abi_ops = {.size = sizeof abi_ops, .notify = abi_notify};

/* By hand: CHATD_PLUGIN_DEFINE always stamps the headers' own version. */
CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void);
CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void)
{
    static const struct chatd_plugin d = {
        .abi_major = PLUGIN_ABI_MAJOR,
        .abi_minor = PLUGIN_ABI_MINOR,
        .kind = CHATD_PLUGIN_NOTIFY,
        .name = "abi",
        .version = "0",
        .init = abi_init,
        .fini = abi_fini,
        .ops.notify = &abi_ops,
    };
    return &d;
}
