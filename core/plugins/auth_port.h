/* The auth plugin as the core uses it: who a STOMP connection (CONNECT, a
 * token refresh) or a REST request is. The session and the REST front
 * door ask through here, never the plugin's ops table. */
#ifndef CHATD_AUTH_PORT_H
#define CHATD_AUTH_PORT_H

#include <chatd/plugin.h>
#include <stdbool.h>

struct event_base;
struct plugin;

struct visitor_settings;

/* cred and what it points to are the caller's until this returns (its
 * `size` is the port's to set); cb runs once on the core thread, maybe
 * before this returns, with an identity of this SDK (what the plugin's SDK
 * lacks is zero), borrowed for the callback.
 *
 * A visitor token (the token or passcode starts "cv1.", visitor_token.h)
 * is judged here against `visitors` and never reaches the plugin: refused
 * while [visitors] is off, else a visitor with roles CHATD_ROLE_USER |
 * ROLE_VISITOR. What the plugin answers never carries ROLE_VISITOR, and a
 * plugin's user whose name starts "visitor:" is refused.
 *
 * cred->tls_identity (SDK 2.9: the user a verified client certificate
 * names) binds the sign-in to that user: a login naming another, or a
 * visitor token, is refused before the plugin is asked, and an identity
 * the plugin answers for another user is refused (CHATD_ERR_DENIED, "the
 * credentials name another user than the client certificate"). */
void auth_authenticate(struct plugin *auth, const struct visitor_settings *visitors,
                       const struct chatd_credentials *cred, chatd_auth_cb cb, void *ctx);

/* Revoke the token in cred (SDK 2.7 revoke: a logout). 0, and cb runs once
 * on the core thread, never before this returns, with the plugin's status:
 * CHATD_ERR_UNSUPPORTED when the plugin has no revoke (an older SDK, a
 * plugin that keeps no revocation list) or the token is a visitor token
 * (the server's own: it ends at its expiry). cred is the caller's until
 * this returns; reason is borrowed for the callback. The plugin instance
 * stays loaded until it answered, as for authenticate. -1 out of memory:
 * cb is not called. */
/* Whether the plugin has revoke at all (it may still answer
 * CHATD_ERR_UNSUPPORTED as configured). */
bool auth_can_revoke(const struct plugin *auth);
int auth_revoke(struct plugin *auth, const struct chatd_credentials *cred, chatd_revoke_cb cb, void *ctx);

/* Instances of the auth plugin that a reload replaced. Each stays loaded
 * until every authentication it had under way answered (the SDK lets a
 * plugin answer from its own thread through host->post, and fini drops
 * what is still queued), then is unloaded on a later turn of the core
 * loop, never from inside its own callback. Core thread. */
struct auth_retiring;
struct auth_retiring *auth_retiring_new(struct event_base *base);
/* Take old, which no new call reaches any more. 0, or -1 out of memory
 * (old is then unloaded at once: its pending answers are dropped). */
int auth_retire(struct auth_retiring *r, struct plugin *old);
/* Instances still waiting for answers (tests, logs). */
size_t auth_retiring_count(const struct auth_retiring *r);
/* Shutdown, after the post() queue closed: unload what is left. NULL ok. */
void auth_retiring_free(struct auth_retiring *r);

#endif
