/* The SDK headers as a third party's strictest C compiler sees them:
 * compiled with -std=c99 -pedantic -Wall -Wextra -Werror by ctest. A whole
 * (tiny) plugin, so that CHATD_PLUGIN_DEFINE is checked too, not only the
 * declarations. */
#include <chatd/plugin.h>
#include <chatd/host.h> /* again: the include guards hold */

static void tiny_notify(void *state, const struct chatd_notification *n)
{
    (void)state;
    /* how a plugin reads a member a later minor added */
    if (CHATD_HAS(n, json_len))
        (void)n->json_len;
}

static chatd_status tiny_init(const struct chatd_host *h, void **state)
{
    *state = NULL;
    if (CHATD_HOST_HAS(h, counter_add))
        h->log(h, CHATD_LOG_DEBUG, "%s", chatd_strerror(CHATD_OK));
    return CHATD_OK;
}

static void tiny_fini(void *state)
{
    (void)state;
}

static const struct chatd_notify_ops tiny_ops = {
    sizeof tiny_ops, /* positional, as C89-minded code would write it */
    tiny_notify,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_NOTIFY, .name = "tiny", .version = "0",
                    .init = tiny_init, .fini = tiny_fini, .ops.notify = &tiny_ops)
