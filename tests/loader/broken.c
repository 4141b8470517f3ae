/* One source, many broken plugins: each build defines one BROKEN_* macro
 * and gets exactly one defect. BROKEN_UNKNOWN_KEY_READER is the healthy
 * control: it loads, and reads only its `mode` key. */
#include <chatd/plugin.h>
#include <stddef.h>

__attribute__((unused)) static void broken_authenticate(void *state, const struct chatd_credentials *cred, chatd_auth_cb cb,
                                void *ctx)
{
    (void)state;
    (void)cred;
    (void)cb;
    (void)ctx;
}

__attribute__((unused)) static chatd_status broken_init(const struct chatd_host *h, void **state)
{
    const char *mode = h->config_get(h, "mode");
#ifdef BROKEN_FAILING_INIT
    (void)state;
    h->config_error(h, "mode", "must be 'on', got '%s'", mode ? mode : "(none)");
    return CHATD_ERR_INVALID;
#else
    (void)mode;
    if (state)
        *state = NULL;
    return CHATD_OK;
#endif
}

__attribute__((unused)) static void broken_fini(void *state)
{
    (void)state;
}

#if defined(BROKEN_MISSING_OP)
__attribute__((unused)) static const struct chatd_auth_ops ops = {.size = sizeof ops, .authenticate = NULL};
#elif defined(BROKEN_SHORT_OPS)
/* An ops table whose size ends before the mandatory member. */
__attribute__((unused)) static const struct chatd_auth_ops ops = {.size = offsetof(struct chatd_auth_ops, authenticate),
                                          .authenticate = broken_authenticate};
#else
__attribute__((unused)) static const struct chatd_auth_ops ops = {.size = sizeof ops, .authenticate = broken_authenticate};
#endif

#if defined(BROKEN_WRONG_MAJOR) || defined(BROKEN_NEWER_MINOR) || defined(BROKEN_NO_SIZE)
CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void);
CHATD_EXPORT const struct chatd_plugin *chatd_plugin_descriptor(void)
{
    static const struct chatd_plugin d = {
#ifdef BROKEN_WRONG_MAJOR
        .abi_major = CHATD_ABI_MAJOR + 1,
        .abi_minor = 0,
#elif defined(BROKEN_NO_SIZE)
        /* written by hand, and the size forgotten */
        .abi_major = CHATD_ABI_MAJOR,
        .abi_minor = CHATD_ABI_MINOR,
#else
        /* not broken: a plugin of a newer minor loads */
        .abi_major = CHATD_ABI_MAJOR,
        .abi_minor = CHATD_ABI_MINOR + 7,
        .size = sizeof d,
#endif
        .kind = CHATD_PLUGIN_AUTH, .name = "broken", .version = "0",
        .init = broken_init, .fini = broken_fini, .ops.auth = &ops,
    };
    return &d;
}
#elif defined(BROKEN_NO_SYMBOL)
/* Exports nothing chatd looks for. */
CHATD_EXPORT int not_a_plugin(void);
CHATD_EXPORT int not_a_plugin(void)
{
    void *state = NULL;
    broken_fini(state);
    return (int)sizeof ops + (int)broken_init(NULL, &state);
}
#elif defined(BROKEN_WRONG_KIND)
CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_STORAGE, .name = "broken", .version = "0",
                    .init = broken_init, .fini = broken_fini)
#elif defined(BROKEN_NO_INIT)
CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_AUTH, .name = "broken", .version = "0", .fini = broken_fini,
                    .ops.auth = &ops)
#else
CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_AUTH, .name = "broken", .version = "0", .init = broken_init,
                    .fini = broken_fini, .ops.auth = &ops)
#endif
