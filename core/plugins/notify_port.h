/* A notify plugin as the core calls it: the notification goes out with its
 * `size` set, in the 1.x layout to a plugin of SDK 1. Core thread. */
#ifndef CHATD_NOTIFY_PORT_H
#define CHATD_NOTIFY_PORT_H

#include <chatd/plugin.h>

struct plugin;

/* Hand n (borrowed for the call, filled as this SDK declares it) to p. */
void notify_port_send(const struct plugin *p, const struct chatd_notification *n);

#endif
