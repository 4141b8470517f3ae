#include "plugins/notify_port.h"

#include <string.h>

#include "plugins/loader.h"
#include "plugins/sdk1.h"

_Static_assert(offsetof(struct chatd_notification, recipient) == SDK1_SKIP, "1.x notification body follows size");

void notify_port_send(const struct plugin *p, const struct chatd_notification *n)
{
    struct chatd_notification in = *n, out;
    in.size = sizeof in;
    memset(&out, 0, sizeof out);
    if (plugin_sdk1(p))
        memcpy(&out, SDK1_CBODY(&in), SDK1_SIZE(chatd_notification));
    else
        out = in;
    p->desc->ops.notify->notify(p->state, &out);
}
