/* The gateway thread: libwebsockets owns every client socket (HTTP, static
 * files, WebSocket and SockJS at the [server] websocket_paths, raw TCP
 * STOMP). It frames and parses STOMP and
 * exchanges messages with the core thread through two queues. It never
 * blocks and never calls a plugin. */
#ifndef CHATD_GATEWAY_H
#define CHATD_GATEWAY_H

#include <stddef.h>

#include "settings.h"
#include "net/xq.h"

struct gateway;

/* Create the lws context and bind the listeners (so a busy port fails
 * start-up). to_core receives XM_OPENED/XM_FRAME/XM_CLOSED; wake_core(wake_arg)
 * is called (on the gateway thread) whenever it turns non-empty. NULL with one line in err. */
struct gateway *gateway_new(const struct settings *s, struct xq *to_core,
                            void (*wake_core)(void *arg), void *wake_arg, char *err, size_t errlen);
int gateway_start(struct gateway *g);
/* Core thread: hand messages (XM_OUT, XM_CLOSE, XM_DRAIN) to the gateway;
 * ownership of what they carry passes with them. */
void gateway_send(struct gateway *g, const struct xmsg *msgs, size_t n);
/* Core thread: make the gateway thread exit now (after a drain, or when the
 * drain bound has passed); waits for it. Remaining connections are closed. */
void gateway_stop(struct gateway *g);
void gateway_free(struct gateway *g);

#endif
