/* The core's own configuration: [server], [stomp], [notify] and [rooms] of
 * chat.ini. */
#ifndef CHATD_SETTINGS_H
#define CHATD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

#include "stomp/acl.h"
#include "log.h"
#include "net/stomp_frame.h"

struct config;

struct settings {
    char *listen_host;      /* HTTP + WebSocket */
    int listen_port;
    char *stomp_host;       /* raw TCP STOMP; NULL = off */
    int stomp_port;
    char *plugin_dir;
    char *web_root;
    char **allowed_origins; /* NULL-terminated */
    chatd_log_level log_level;
    enum log_format log_format;
    long long shutdown_timeout_ms;
    long long presence_interval_ms; /* snapshot period; peers expire after 3 */
    size_t max_connections_per_ip; /* live STOMP connections (WS + TCP) per peer address; 0 = unlimited */

    struct stomp_limits limits;
    size_t max_subscriptions;     /* per session */
    long long connect_timeout_ms; /* from accept to CONNECT */
    size_t max_outbound_bytes;    /* per session, queued in the gateway */
    size_t ws_rx_buffer;          /* libwebsockets' per-connection rx buffer */
    size_t max_unacked;           /* per client-ack subscription */
    size_t max_sends_per_second;  /* SEND frames per session; 0 = unlimited */
    size_t max_send_bytes_per_second; /* SEND bytes per session (reading paused beyond); 0 = unlimited */
    long long slow_consumer_timeout_ms; /* a queue holding publishers back must drain by then; 0 = never */
    /* [notify]: offline notifications; the preview of in-band ones too. */
    unsigned notify_kinds;        /* bit (1 << chatd_room_kind) set: every message of such rooms */
    bool notify_mentions;         /* and messages naming the member as @user, in any room */
    long long notify_coalesce_ms; /* per recipient and room; 0 = one per message */
    size_t notify_preview;        /* characters of the text in `preview`, in-band and offline */
    size_t max_queue_length;      /* messages waiting in one /queue/ */
    size_t max_transactions;      /* open per session */
    size_t max_transaction_frames;
    long long heartbeat_send_ms;    /* what the server offers to send; 0 = never */
    long long heartbeat_receive_ms; /* how often the server wants to hear; 0 = never */
    struct acl acl;               /* [stomp] allow.* */
    /* [rooms] */
    long long retention_ms;       /* closed support rooms are purged this long after closing; 0 = never */
};

/* Read and check [server] and [stomp]; reject unknown sections and keys of
 * the core's sections. 0, or -1 with one line in err. */
int settings_load(struct settings *s, struct config *cfg, char *err, size_t errlen);
void settings_free(struct settings *s);
/* "all", "support", "direct", "group", "mentions", separated by spaces or
 * commas. 0, or -1 on an unknown word or an empty list. */
int settings_parse_notify_policy(const char *v, unsigned *kinds, bool *mentions);

/* "host:port" -> parts; host defaults to 0.0.0.0 when only ":port". */
int settings_parse_addr(const char *v, char **host, int *port);

#endif
