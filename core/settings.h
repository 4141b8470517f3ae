/* The core's own configuration: [server], [stomp], [notify], [rooms], [support] and [visitors] of
 * chat.ini. */
#ifndef CHATD_SETTINGS_H
#define CHATD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#include <chatd/plugin.h>

#include "cidr.h"
#include "dest_prefixes.h"
#include "support_skills.h"
#include "stomp/acl.h"
#include "log.h"
#include "net/stomp_frame.h"
#include "visitor_token.h"

struct config;

/* [server] websocket_paths: at most this many, each at most this long. */
#define SETTINGS_WS_PATHS_MAX 8
#define SETTINGS_WS_PATH_LEN 64

/* One STOMP-over-WebSocket endpoint, with or without SockJS under it. */
struct ws_endpoint {
    char *path;  /* "/ws": starts with '/', no trailing '/' */
    bool sockjs;
};

/* [support] assign: who gives a new support room its agent. */
enum support_assign { SUPPORT_ASSIGN_MANUAL = 0, SUPPORT_ASSIGN_ROUND_ROBIN, SUPPORT_ASSIGN_LEAST_BUSY };

/* [server] tls_client_certs: whether TLS clients show a certificate. */
enum tls_client_certs { TLS_CLIENT_CERTS_OFF = 0, TLS_CLIENT_CERTS_OPTIONAL, TLS_CLIENT_CERTS_REQUIRED };

/* [server] tls_client_user: which field of a verified client certificate
 * names its user (docs/configuration.md, "Client certificates as users"). */
enum tls_client_user {
    TLS_CLIENT_USER_OFF = 0, /* a certificate names nobody: sign-in is [auth]'s alone */
    TLS_CLIENT_USER_CN,        /* the subject's commonName */
    TLS_CLIENT_USER_SAN_EMAIL, /* the first rfc822Name of subjectAltName */
    TLS_CLIENT_USER_SAN_DNS,   /* the first dNSName of subjectAltName */
};

/* The TLS listeners' settings (docs/configuration.md, "TLS"). */
struct tls_settings {
    char *host;             /* [server] tls_listen: HTTPS + WSS; NULL = off */
    int port;
    char *stomp_host;       /* stomp_tls_listen: STOMP over TLS; NULL = off */
    int stomp_port;
    char *cert;             /* PEM: the certificate, then its chain */
    char *key;              /* PEM private key */
    char *ca;               /* PEM: the CAs client certificates must chain to; NULL without */
    char *crl;              /* PEM: those CAs' revocation lists; NULL without */
    enum tls_client_certs client_certs;
    enum tls_client_user client_user;
    int min_version;        /* 12 (TLS 1.2) or 13 */
    char *ciphers;          /* TLS 1.2 cipher list (OpenSSL syntax) */
    long long hsts_max_age_s; /* Strict-Transport-Security over HTTPS; 0 = off */
};

struct settings {
    char *listen_host;      /* HTTP + WebSocket; NULL = off (only with tls.host) */
    int listen_port;
    char *stomp_host;       /* raw TCP STOMP; NULL = off */
    int stomp_port;
    struct tls_settings tls;
    char *plugin_dir;
    char *web_root;
    char **allowed_origins; /* NULL-terminated */
    struct cidr_list trusted_proxies; /* whose Forwarded / X-Forwarded-For is believed */
    bool proxy_protocol;              /* raw STOMP from a trusted proxy opens with a PROXY header */
    chatd_log_level log_level;
    enum log_format log_format;
    long long shutdown_timeout_ms;
    long long presence_interval_ms; /* snapshot period; peers expire after 3 */
    long long offline_grace_ms;     /* [presence] offline_grace: told offline this long after the last session */
    long long last_seen_max;        /* [presence] last_seen_max: users kept in the status book; 0 = no limit */
    size_t max_connections_per_ip; /* live STOMP connections (WS + TCP) per peer address; 0 = unlimited */
    struct ws_endpoint ws_paths[SETTINGS_WS_PATHS_MAX]; /* websocket_paths, sockjs */
    size_t nws_paths;
    long long sockjs_heartbeat_ms;        /* 'h' to an idle SockJS receiver */
    long long sockjs_disconnect_delay_ms; /* a SockJS session without a receiver this long is closed */
    size_t sockjs_response_limit;         /* bytes of one streaming response before the client reconnects */
    long long request_timeout_ms;         /* a REST request not answered this long gets 504 */

    struct stomp_limits limits;
    size_t max_subscriptions;     /* per session */
    long long connect_timeout_ms; /* from accept to CONNECT (not its verification) */
    long long busy_retry_after_ms; /* least retry-after of a CONNECT shed while auth is busy */
    size_t max_outbound_bytes;    /* per session, queued in the gateway */
    size_t ws_rx_buffer;          /* libwebsockets' per-connection rx buffer */
    size_t max_unacked;           /* per client-ack subscription */
    size_t max_sends_per_second;  /* SEND frames per session; 0 = unlimited */
    size_t max_send_bytes_per_second; /* SEND bytes per session (reading paused beyond); 0 = unlimited */
    long long slow_consumer_timeout_ms; /* a queue holding publishers back must drain by then; 0 = never */
    long long token_recheck_ms; /* a session with an expiring identity is authenticated again this often; 0 = never */
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
    struct acl acl;               /* [stomp] allow.*, in canonical form */
    struct dest_prefixes prefixes; /* [stomp] application_prefix, topic_prefix, queue_prefix, user_prefix */
    /* [rooms] */
    long long retention_ms;       /* closed support rooms are purged this long after closing; 0 = never */
    /* [files]: attachments (docs/files.md); files_on when the section names a plugin. */
    bool files_on;
    size_t files_max_size;        /* bytes of one file */
    char **files_types;           /* allowed media types ("image/png"), files_ntypes of them */
    size_t files_ntypes;
    size_t files_quota;           /* bytes one user may store; 0 = no quota */
    long long edit_window_ms;     /* [rooms] edit_window: how long a sender edits or deletes a message; 0 = never */
    /* [support] (docs/support-desk.md) */
    enum support_assign support_assign;
    size_t max_chats_per_agent;   /* open assigned rooms per agent for automatic assignment; 0 = unlimited */
    long long reopen_window_ms;   /* a customer's message reopens a room completed this recently; 0 = never */
    long long first_response_target_ms; /* a customer waiting longer for an agent's message is flagged; 0 = off */
    bool canned_agents_write;     /* [support] canned_writers = agents: agents change canned replies too */
    struct support_skills skills; /* [support] skills: the topics each agent takes */
    long long topic_wait_ms;      /* [support] topic_wait: a topic room goes to any agent after this; 0 = never */
    /* [visitors] (docs/visitors.md) */
    struct visitor_settings visitors;
};

/* Read and check [server] and [stomp]; reject unknown sections and keys of
 * the core's sections. 0, or -1 with one line in err. */
int settings_load(struct settings *s, struct config *cfg, char *err, size_t errlen);
void settings_free(struct settings *s);
/* "all", "support", "direct", "group", "mentions", separated by spaces or
 * commas. 0, or -1 on an unknown word or an empty list. */
/* A retry-after (seconds) for a sign-in shed while the auth plugin is busy:
 * drawn from [busy_retry_after, 2 x busy_retry_after] so that clients which
 * follow it to the letter do not come back together. */
long long settings_busy_retry_after_s(const struct settings *s);
int settings_parse_notify_policy(const char *v, unsigned *kinds, bool *mentions);

/* websocket_paths and sockjs ("on", "off", or a list of those paths)
 * into s->ws_paths. 0, or -1 with the key at fault in *key and the reason
 * in why. */
int settings_parse_ws_paths(struct settings *s, const char *paths, const char *sockjs, const char **key, char *why,
                            size_t whylen);

/* A reload (docs/configuration.md, "What a reload changes"). The keys that
 * need a restart whose values differ between old and next, as "[section]
 * key", into keys (at most max; static strings); returns how many differ. */
size_t settings_restart_changes(const struct settings *old, const struct settings *next, const char **keys,
                                size_t max);
/* Take next's live members into s; next gets what s had, for the caller to
 * free. Members a restart changes are left alone: the gateway thread reads
 * some of them (net/gateway.h). Core thread. */
void settings_take_live(struct settings *s, struct settings *next);

/* "host:port" -> parts; host defaults to 0.0.0.0 when only ":port". */
int settings_parse_addr(const char *v, char **host, int *port);

#endif
