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

/* The settings the gateway reads that a reload may change. The gateway
 * keeps its own copy, replaced on its thread by an XM_LIMITS message: the
 * core never writes what the gateway thread reads. What it reads through
 * the `struct settings` it was given (listeners, paths, origins) needs a
 * restart to change, so nobody writes it after gateway_new. */
struct gateway_limits {
    struct stomp_limits frame;         /* for connections opened from now on */
    size_t max_connections_per_ip;
    size_t max_outbound_bytes;
    size_t max_send_bytes_per_second;
    long long slow_consumer_timeout_ms;
    long long sockjs_heartbeat_ms;
    long long sockjs_disconnect_delay_ms;
    size_t sockjs_response_limit;
};

void gateway_limits_of(const struct settings *s, struct gateway_limits *out);

/* Create the lws context and bind the listeners (so a busy port fails
 * start-up). to_core receives XM_OPENED/XM_FRAME/XM_CLOSED; wake_core(wake_arg)
 * is called (on the gateway thread) whenever it turns non-empty. NULL with one line in err. */
struct gateway *gateway_new(const struct settings *s, struct xq *to_core,
                            void (*wake_core)(void *arg), void *wake_arg, char *err, size_t errlen);
int gateway_start(struct gateway *g);
/* Core thread: hand messages (XM_OUT, XM_CLOSE, XM_DRAIN, XM_LIMITS) to the gateway;
 * ownership of what they carry passes with them. */
void gateway_send(struct gateway *g, const struct xmsg *msgs, size_t n);
/* Core thread: make the gateway thread exit now (after a drain, or when the
 * drain bound has passed); waits for it. Remaining connections are closed. */
void gateway_stop(struct gateway *g);
void gateway_free(struct gateway *g);

#endif
