/* The auth plugin as the core uses it: who a STOMP connection (CONNECT, a
 * token refresh) or a REST request is. The session and the REST front
 * door ask through here, never the plugin's ops table. */
#ifndef CHATD_AUTH_PORT_H
#define CHATD_AUTH_PORT_H

#include <chatd/plugin.h>

struct plugin;

/* cred and what it points to are the caller's until this returns (its
 * `size` is the port's to set); cb runs once on the core thread, maybe
 * before this returns, with an identity of this SDK (what the plugin's SDK
 * lacks is zero), borrowed for the callback. */
void auth_authenticate(const struct plugin *auth, const struct chatd_credentials *cred, chatd_auth_cb cb,
                       void *ctx);

#endif
