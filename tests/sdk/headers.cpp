// The SDK headers from C++: compiled with -std=c++11 -Wall -Wextra -Werror
// by ctest. CHATD_PLUGIN_DEFINE needs C designated initializers, so a C++
// plugin fills its descriptor by hand, as below.
#include <chatd/plugin.h>
#include <chatd/host.h>

static chatd_status cxx_init(const struct chatd_host *h, void **state)
{
    *state = nullptr;
    if (CHATD_HOST_HAS(h, channel_live))
        h->log(h, CHATD_LOG_DEBUG, "%s", chatd_strerror(CHATD_ERR_INVALID));
    return CHATD_OK;
}

static void cxx_fini(void *) {}

static void cxx_notify(void *, const struct chatd_notification *n)
{
    (void)(CHATD_HAS(n, json_len) ? n->json_len : 0);
}

static const struct chatd_notify_ops cxx_ops = {sizeof cxx_ops, cxx_notify};

extern "C" CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void);

extern "C" CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void)
{
    static struct chatd_plugin d;
    d.abi_major = CHATD_ABI_MAJOR;
    d.abi_minor = CHATD_ABI_MINOR;
    d.size = sizeof d;
    d.kind = CHATD_PLUGIN_NOTIFY;
    d.name = "cxx";
    d.version = "0";
    d.init = cxx_init;
    d.fini = cxx_fini;
    d.ops.notify = &cxx_ops;
    return &d;
}
