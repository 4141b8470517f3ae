/* The server: one struct that owns everything the core thread runs. There
 * are no mutable globals; every module gets this struct or a part of it. */
#ifndef CHATD_SERVER_H
#define CHATD_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include <chatd/plugin.h>

#include "plugins/broker_port.h"
#include "addr_rate.h"
#include "idmap.h"
#include "metrics.h"
#include "settings.h"
#include "net/xq.h"

struct auth_retiring;
struct event;
struct event_base;
struct config;
struct gateway;
struct plugin;
struct retention;
struct files_policy;
struct rooms;
struct router;
struct send_order;
struct session;
struct tasks;

struct server {
    struct settings settings;
    struct config *config; /* the file as last loaded: a reload compares with it */
    struct event_base *base;

    struct plugin *auth;
    struct auth_retiring *auth_retiring; /* instances a reload replaced, finishing their calls */
    struct plugin *storage;
    struct plugin *broker;
    struct plugin *files; /* [files]; NULL: attachments are off */
    struct files_policy *files_policy; /* with files: [files] as the rooms apply it */
    struct idmap uploads; /* http/files_rest.c: uploads under way, by request id */
    struct idmap downloads; /* http/files_rest.c: downloads under way, by request id */
    struct broker_port broker_port; /* the broker as the core uses it */
    struct plugin **notify;
    size_t nnotify;

    struct tasks *tasks;         /* host->post queue */
    struct gateway *gateway;
    struct xq *to_core;          /* filled by the gateway */
    struct event *to_core_ev;    /* activated when to_core turns non-empty */
    struct xmsg *batch;          /* the core's side of the to_core swap */
    size_t batch_cap;

    struct idmap sessions;       /* session id -> struct session */
    /* Sessions that have not sent CONNECT yet, oldest first (for the
     * CONNECT timeout), and those whose CONNECT the auth plugin is
     * verifying (no longer timed: that wait is the server's). */
    struct session *pending_head, *pending_tail;
    size_t authenticating;
    struct event *pending_timer;
    struct router *router;
    struct send_order *send_order; /* each session's room messages in send order */
    struct rooms *rooms;           /* the rooms domain: its ports (rooms/rooms.h) */

    /* Outbound messages collected during one core turn, pushed to the gateway
     * in one batch at its end. */
    struct xmsg *out;
    size_t nout, out_cap;
    struct event *flush_ev;
    /* Sessions whose frames the core took this turn: their bytes are
     * credited back to the gateway's flow control at its end. */
    uint64_t *credit_ids;
    size_t ncredit, credit_cap;

    struct presence *presence;   /* who is online and watching, cluster-wide */
    struct notifier *notifier;   /* offline notifications */
    struct retention *retention; /* purges closed support rooms; NULL when [rooms] retention is off */
    struct metrics metrics;
    struct addr_rate visitor_rate; /* POST /api/visitors per client address */
    uint64_t next_message_id;
    uint64_t next_trace;         /* trace ids minted for SENDs without one */
    char instance[24];           /* this instance's random id: message-id prefix, presence, trace ids */
    bool stopping;
    struct event *sig_int, *sig_term, *sig_hup, *stop_timer;
};

/* Queue a message for the gateway; pushed at the end of this loop turn. */
void server_emit(struct server *srv, const struct xmsg *m);
/* Core thread: read the configuration file again and apply what may change
 * while serving (server_reload.c; docs/configuration.md, "Reload"). 0 with
 * one line saying what was done in msg, or -1 with one line saying why
 * nothing changed; either way the line is logged. */
int server_reload(struct server *srv, char *msg, size_t msglen);
/* Core thread: a logout of `token` by `user` took effect (the auth plugin
 * revoked it); close this instance's sessions opened with it. How many. */
size_t server_end_sessions_of_token(struct server *srv, const char *user, const char *token);
/* Begin graceful shutdown (signal, or fatal error). */
void server_stop(struct server *srv);

#endif
