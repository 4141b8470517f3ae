#include "server.h"

#include <event2/event.h>
#include <event2/thread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "stomp/destinations.h"
#include "net/gateway.h"
#include "plugins/auth_port.h"
#include "plugins/loader.h"
#include "log.h"
#include "rooms/files.h"
#include "rooms/notify.h"
#include "plugins/plugin_host.h"
#include "rooms/presence.h"
#include "wire/message_body_json.h"
#include "wire/notification_json.h"
#include "wire/wait_news_json.h"
#include "rooms/user_presence.h"
#include "http/files_rest.h"
#include "http/rest.h"
#include "rooms/retention.h"
#include "rooms/rooms.h"
#include "rooms/availability.h"
#include "rooms/first_response.h"
#include "rooms/routing.h"
#include "stomp/room_events.h"
#include "stomp/room_subscriptions.h"
#include "stomp/router.h"
#include "stomp/send_order.h"
#include "server_run.h"
#include "stomp/session.h"
#include "net/stomp_frame.h"

void server_emit(struct server *srv, const struct xmsg *m)
{
    if (srv->nout == srv->out_cap) {
        size_t cap = srv->out_cap ? srv->out_cap * 2 : 256;
        struct xmsg *out = realloc(srv->out, cap * sizeof *out);
        if (!out) {
            struct xmsg copy = *m;
            xmsg_dispose(&copy);
            log_error("out of memory: outbound frame for session %llu dropped",
                      (unsigned long long)m->session);
            return;
        }
        srv->out = out;
        srv->out_cap = cap;
    }
    srv->out[srv->nout++] = *m;
    srv->metrics.frames_out += m->kind == XM_OUT;
    if (srv->nout == 1)
        event_active(srv->flush_ev, 0, 0);
}

/* Everything emitted during this loop turn goes to the gateway at once. */
static void server_flush(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    session_flush_credits(srv);
    if (srv->nout && srv->gateway)
        gateway_send(srv->gateway, srv->out, srv->nout);
    else
        for (size_t i = 0; i < srv->nout; i++)
            xmsg_dispose(&srv->out[i]);
    srv->nout = 0;
}

static void server_from_gateway(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    size_t n;
    xq_take(srv->to_core, &srv->batch, &n, &srv->batch_cap);
    for (size_t i = 0; i < n; i++) {
        struct xmsg *m = &srv->batch[i];
        switch (m->kind) {
        case XM_OPENED:
            srv->metrics.sessions_opened++;
            session_opened(srv, m->session, m->u.opened.transport, m->u.opened.remote_addr);
            break;
        case XM_TLS_PEER:
            session_tls_peer(srv, m->session, m->u.tls_peer.identity, m->u.tls_peer.problem);
            break;
        case XM_FRAME:
            srv->metrics.frames_in++;
            session_frame(srv, m->session, m->u.frame);
            break;
        case XM_CLOSED:
            srv->metrics.sessions_closed++;
            session_closed(srv, m->session);
            break;
        case XM_HTTP_REQUEST:
            srv->metrics.http_requests++;
            rest_request(srv, m->session, m->u.http_request);
            break;
        case XM_HTTP_BODY:
            files_rest_body(srv, m->session, m->u.http_body.data, m->u.http_body.len, m->u.http_body.end,
                            m->u.http_body.aborted);
            break;
        case XM_HTTP_SENT:
            files_rest_sent(srv, m->session, m->u.credit);
            break;
        case XM_HTTP_GONE:
            files_rest_gone(srv, m->session);
            break;
        default:
            xmsg_dispose(m);
            break;
        }
    }
}

static void server_stop_timeout(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    struct server *srv = arg;
    log_warn("shutdown bound reached with %zu sessions still open; closing them", srv->sessions.count);
    event_base_loopexit(srv->base, NULL);
}

size_t server_end_sessions_of_token(struct server *srv, const char *user, const char *token)
{
    return session_end_token(srv, user, token, "logged out",
                             "The token this session was opened with was revoked (POST /api/logout).");
}

void server_stop(struct server *srv)
{
    if (srv->stopping)
        return;
    srv->stopping = true;
    log_info("shutting down: closing %zu sessions", srv->sessions.count);
    session_close_all(srv);
    struct xmsg drain = {.kind = XM_DRAIN};
    server_emit(srv, &drain);
    if (srv->sessions.count == 0) {
        event_base_loopexit(srv->base, NULL);
        return;
    }
    struct timeval tv = {srv->settings.shutdown_timeout_ms / 1000,
                         (srv->settings.shutdown_timeout_ms % 1000) * 1000};
    srv->stop_timer = evtimer_new(srv->base, server_stop_timeout, srv);
    if (!srv->stop_timer || evtimer_add(srv->stop_timer, &tv) < 0)
        event_base_loopexit(srv->base, NULL);
}

static void server_on_signal(evutil_socket_t sig, short what, void *arg)
{
    (void)what;
    log_info("received %s", sig == SIGINT ? "SIGINT" : "SIGTERM");
    server_stop(arg);
}

static void server_on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig, (void)what;
    log_info("received SIGHUP: reloading the configuration");
    char msg[1536];
    (void)server_reload(arg, msg, sizeof msg); /* the outcome is logged */
}

static void server_on_pending_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    session_expire_pending(arg);
}

static void raise_fd_limit(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
            log_warn("cannot raise the open-files limit to %llu", (unsigned long long)rl.rlim_max);
    }
}

static struct plugin **notify_push(struct server *srv, struct plugin *p)
{
    struct plugin **v = realloc(srv->notify, (srv->nnotify + 1) * sizeof *v);
    if (!v)
        return NULL;
    v[srv->nnotify++] = p;
    return srv->notify = v;
}

/* 48 random bits, hex: names this instance among the others. */
static void server_instance_id(char *out, size_t len)
{
    uint64_t seed = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&seed, sizeof seed, 1, f) != 1)
        seed = (uint64_t)(uintptr_t)out ^ (uint64_t)getpid() ^ (uint64_t)time(NULL);
    if (f)
        fclose(f);
    snprintf(out, len, "%012llx", (unsigned long long)(seed & 0xffffffffffffULL));
}

/* What the broker hands back, to the modules that handle it. */
static void presence_event(void *arg, const char *channel, const void *data, size_t len)
{
    (void)channel;
    presence_deliver(arg, data, len);
}

/* Another instance's news of a support wait (wire/wait_news_json.h). */
static void waits_event(void *arg, const char *channel, const void *data, size_t len)
{
    (void)channel;
    struct server *srv = arg;
    char from[sizeof srv->instance];
    struct wait_news n;
    struct wait_news_buf buf;
    if (wait_news_decode(data, len, from, sizeof from, &n, &buf) < 0) {
        log_warn("support wait news could not be parsed; dropped");
        return;
    }
    if (strcmp(from, srv->instance) != 0 && srv->rooms)
        first_response_heard(srv->rooms->first_response, &n);
}

/* This instance's news of a wait, to the others. */
static void waits_tell(void *ctx, const struct wait_news *n)
{
    struct server *srv = ctx;
    char *text = wait_news_encode(srv->instance, n);
    if (!text)
        return;
    void *state;
    chatd_status st = broker_ops(&srv->broker_port, &state)->publish(state, WAITS_CHANNEL, text, strlen(text));
    if (st != CHATD_OK)
        log_debug("support wait news not published: %s", chatd_strerror(st));
    free(text);
}

static void router_event(void *arg, const char *channel, const void *data, size_t len)
{
    router_deliver(arg, channel, data, len);
}

static void router_live(void *arg, const char *channel, chatd_status st)
{
    router_channel_live(arg, channel, st);
}

/* Back after an outage: room subscriptions catch up from storage, then
 * presence tells the other instances what this one has. */
static void rooms_broker_ready(void *arg)
{
    rooms_resync(arg);
}

static void presence_ready(void *arg)
{
    presence_broker_ready(arg);
}

/* Back after an outage: the waits that began elsewhere meanwhile. */
static void waits_ready(void *arg)
{
    struct server *srv = arg;
    if (srv->rooms)
        first_response_ask(srv->rooms->first_response);
}

static int server_wire_broker(struct server *srv)
{
    struct broker_port *b = &srv->broker_port;
    if (broker_port_attach(b, srv->broker->desc->ops.broker, srv->broker->state, srv->base) < 0)
        return -1;
    /* Within BROKER_PORT_HANDLERS by construction: cannot fail. */
    (void)broker_port_on_channel(b, PRESENCE_CHANNEL, presence_event, srv->presence);
    (void)broker_port_on_channel(b, WAITS_CHANNEL, waits_event, srv);
    (void)broker_port_on_channel(b, NULL, router_event, srv->router);
    (void)broker_port_on_ready(b, rooms_broker_ready, srv);
    (void)broker_port_on_ready(b, presence_ready, srv->presence);
    (void)broker_port_on_ready(b, waits_ready, srv);
    broker_port_on_live(b, router_live, srv->router);
    return 0;
}


/* The rooms domain answers through the storage port, tells its events to
 * the STOMP side (room_events.c) and asks presence who is around. */
static bool rooms_online(const void *ctx, const char *user)
{
    const struct server *srv = ctx;
    return srv->presence && presence_online(srv->presence, user);
}

static bool rooms_away(const void *ctx, const char *agent)
{
    const struct server *srv = ctx;
    return srv->presence && presence_away(srv->presence, agent);
}

static void rooms_set_away(const void *ctx, const char *agent, bool away)
{
    const struct server *srv = ctx;
    if (srv->presence)
        presence_set_away(srv->presence, agent, away);
}

static void rooms_each_agent(const void *ctx, void (*fn)(void *fctx, const char *agent), void *fctx)
{
    const struct server *srv = ctx;
    if (srv->presence)
        presence_each_agent(srv->presence, fn, fctx);
}

static enum user_status rooms_user_status(const void *ctx, const char *user, int64_t *last_seen_ms)
{
    const struct server *srv = ctx;
    *last_seen_ms = 0;
    return srv->presence ? presence_user_status(srv->presence, user, last_seen_ms) : USER_OFFLINE;
}

static void rooms_set_user_away(const void *ctx, const char *user, bool away)
{
    const struct server *srv = ctx;
    if (srv->presence)
        presence_set_user_away(srv->presence, user, away);
}

/* Presence says this instance tells a user's status: the rooms know who
 * may hear it. */
static void user_status_told(void *ctx, const char *user, enum user_status status, int64_t last_seen_ms)
{
    struct server *srv = ctx;
    if (srv->rooms)
        user_presence_tell(srv->rooms, user, status, last_seen_ms);
}

static bool routing_leader(const void *ctx)
{
    const struct server *srv = ctx;
    return srv->presence && presence_is_leader(srv->presence);
}

static void agents_changed(void *ctx)
{
    struct server *srv = ctx;
    if (!srv->rooms)
        return;
    availability_changed(srv->rooms);
    routing_heard(srv->rooms->routing);
}

/* A routing trigger here, where another instance routes: ask it. */
static void routing_ask(void *ctx)
{
    struct server *srv = ctx;
    presence_ask_route(srv->presence);
}

static void routing_asked(void *ctx)
{
    struct server *srv = ctx;
    if (srv->rooms)
        routing_heard(srv->rooms->routing);
}

static bool rooms_watching(const void *ctx, const char *user, const char *room_id)
{
    const struct server *srv = ctx;
    return presence_watching(srv->presence, user, room_id);
}

/* /metrics' view of the sessions and subscriptions, asked at each scrape. */
static void live_gauges(const void *ctx, struct metrics_gauges *g)
{
    const struct server *srv = ctx;
    size_t subs, queued;
    router_stats(srv->router, &subs, &queued);
    g->connections = srv->sessions.count;
    g->sessions = srv->sessions.count - session_pending_count(srv);
    g->subscriptions = subs;
    g->queued = queued;
}

static int server_wire_rooms(struct server *srv)
{
    if (!(srv->rooms = calloc(1, sizeof *srv->rooms)))
        return -1;
    srv->rooms->storage = srv->storage;
    room_events_port_init(&srv->rooms->events, srv);
    srv->rooms->presence = (struct room_presence_port){.ctx = srv, .online = rooms_online, .watching = rooms_watching,
                                                       .away = rooms_away, .set_away = rooms_set_away,
                                                       .each_agent = rooms_each_agent, .status = rooms_user_status,
                                                       .set_user_away = rooms_set_user_away};
    srv->rooms->max_chats_per_agent = srv->settings.max_chats_per_agent;
    srv->rooms->skills = &srv->settings.skills; /* a reload swaps what it holds */
    if (!(srv->rooms->availability = availability_new()))
        return -1;
    presence_on_agents(srv->presence, agents_changed, srv);
    presence_on_status(srv->presence, user_status_told, srv);
    /* Idle while assignment is manual; a reload may change that. */
    srv->rooms->routing = routing_new(srv->rooms, srv->base, srv->settings.support_assign, routing_leader, srv);
    if (!srv->rooms->routing)
        return -1;
    routing_on_elsewhere(srv->rooms->routing, routing_ask, srv);
    presence_on_route_request(srv->presence, routing_asked, srv);
    srv->rooms->preview_chars = srv->settings.notify_preview;
    srv->rooms->bodies = &message_body_json;
    srv->rooms->edit_window_ms = srv->settings.edit_window_ms;
    if (srv->files) {
        if (!(srv->files_policy = calloc(1, sizeof *srv->files_policy)))
            return -1;
        *srv->files_policy = (struct files_policy){.max_size = srv->settings.files_max_size,
                                                   .types = srv->settings.files_types,
                                                   .ntypes = srv->settings.files_ntypes,
                                                   .quota = srv->settings.files_quota};
        srv->rooms->files = srv->files;
        srv->rooms->files_policy = srv->files_policy;
    }
    srv->rooms->reopen_window_ms = srv->settings.reopen_window_ms;
    srv->rooms->topic_wait_ms = srv->settings.topic_wait_ms;
    srv->rooms->canned_agents_write = srv->settings.canned_agents_write;
    srv->rooms->first_response = first_response_new(srv->rooms, srv->base, srv->settings.first_response_target_ms);
    first_response_on_news(srv->rooms->first_response, waits_tell, srv);
    if (!srv->rooms->first_response)
        return -1;
    srv->rooms->metrics = &srv->metrics;
    srv->metrics.live = (struct metrics_source){.gauges = live_gauges, .ctx = srv};
    return 0;
}

int server_init(struct server *srv, const char *config_path, bool quiet, char *err, size_t errlen)
{
    memset(srv, 0, sizeof *srv);
    idmap_init(&srv->sessions);
    idmap_init(&srv->uploads);
    idmap_init(&srv->downloads);
    addr_rate_init(&srv->visitor_rate);
    if (config_load_file(&srv->config, config_path, err, errlen) < 0)
        return -1;
    if (settings_load(&srv->settings, srv->config, err, errlen) < 0)
        return -1;
    log_setup(quiet && srv->settings.log_level > CHATD_LOG_WARN ? CHATD_LOG_WARN : srv->settings.log_level,
              srv->settings.log_format);

    server_instance_id(srv->instance, sizeof srv->instance);
    evthread_use_pthreads();
    srv->base = event_base_new();
    if (!srv->base || !(srv->tasks = tasks_new(srv->base))) {
        snprintf(err, errlen, "cannot create the event loop");
        return -1;
    }
    if (!(srv->auth_retiring = auth_retiring_new(srv->base))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(srv->auth = plugin_load(srv, srv->config, "auth", CHATD_PLUGIN_AUTH, err, errlen)) ||
        !(srv->storage = plugin_load(srv, srv->config, "storage", CHATD_PLUGIN_STORAGE, err, errlen)) ||
        !(srv->broker = plugin_load(srv, srv->config, "broker", CHATD_PLUGIN_BROKER, err, errlen)))
        return -1;
    if (srv->settings.files_on &&
        !(srv->files = plugin_load(srv, srv->config, "files", CHATD_PLUGIN_FILES, err, errlen)))
        return -1;
    for (size_t i = 0; i < srv->config->nsections; i++) {
        const char *name = srv->config->sections[i].name;
        if (strncmp(name, "notify.", 7) != 0)
            continue;
        struct plugin *p = plugin_load(srv, srv->config, name, CHATD_PLUGIN_NOTIFY, err, errlen);
        if (!p)
            return -1;
        if (!notify_push(srv, p)) {
            plugin_unload(p);
            snprintf(err, errlen, "out of memory");
            return -1;
        }
    }
    if (retention_setup(srv, err, errlen) < 0)
        return -1;
    /* Once the configuration loaded: a bad one gets its one line only. */
    destinations_warn_acl(&srv->settings.acl, &srv->settings.prefixes, srv->config);
    if (!(srv->router = router_new(srv)) || !(srv->presence = presence_new(srv)) ||
        !(srv->notifier = notifier_new(srv, notification_json))) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (!(srv->send_order = send_order_new()) || server_wire_rooms(srv) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    if (server_wire_broker(srv) < 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    return 0;
}

/* Gateway thread: the queue to the core turned non-empty. */
static void server_wake(void *ev)
{
    event_active(ev, EV_READ, 0);
}

int server_run(struct server *srv, char *err, size_t errlen)
{
    raise_fd_limit();
    signal(SIGPIPE, SIG_IGN);
    srv->to_core = calloc(1, sizeof *srv->to_core);
    if (!srv->to_core) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    xq_init(srv->to_core);
    srv->to_core_ev = event_new(srv->base, -1, 0, server_from_gateway, srv);
    srv->flush_ev = event_new(srv->base, -1, 0, server_flush, srv);
    srv->sig_int = evsignal_new(srv->base, SIGINT, server_on_signal, srv);
    srv->sig_term = evsignal_new(srv->base, SIGTERM, server_on_signal, srv);
    srv->sig_hup = evsignal_new(srv->base, SIGHUP, server_on_hup, srv);
    srv->pending_timer = event_new(srv->base, -1, EV_PERSIST, server_on_pending_timer, srv);
    struct timeval second = {1, 0};
    if (!srv->to_core_ev || !srv->flush_ev || !srv->sig_int || !srv->sig_term || !srv->sig_hup ||
        !srv->pending_timer || event_add(srv->sig_int, NULL) < 0 || event_add(srv->sig_term, NULL) < 0 ||
        event_add(srv->sig_hup, NULL) < 0 ||
        event_add(srv->pending_timer, &second) < 0) {
        snprintf(err, errlen, "cannot set up the event loop");
        return -1;
    }
    /* The config tree is start-up only: plugins copied what they keep. */
    srv->gateway = gateway_new(&srv->settings, srv->to_core, server_wake, srv->to_core_ev, err, errlen);
    if (!srv->gateway || gateway_start(srv->gateway) < 0) {
        if (srv->gateway)
            snprintf(err, errlen, "cannot start the gateway thread");
        return -1;
    }
    char paths[SETTINGS_WS_PATHS_MAX * (SETTINGS_WS_PATH_LEN + 12)] = "";
    size_t at = 0;
    for (size_t i = 0; i < srv->settings.nws_paths && at < sizeof paths; i++)
        at += (size_t)snprintf(paths + at, sizeof paths - at, "%s%s%s", i ? ", " : "", srv->settings.ws_paths[i].path,
                               srv->settings.ws_paths[i].sockjs ? " +SockJS" : "");
    const struct settings *st = &srv->settings;
    if (st->listen_host)
        log_info("chatd %s: HTTP and WebSocket (%s) on %s:%d", CHATD_VERSION, paths, st->listen_host, st->listen_port);
    if (st->tls.host)
        log_info("chatd %s: HTTPS and WebSocket over TLS (%s) on %s:%d", CHATD_VERSION, paths, st->tls.host,
                 st->tls.port);
    if (st->stomp_host)
        log_info("STOMP over TCP on %s:%d", st->stomp_host, st->stomp_port);
    if (st->tls.stomp_host)
        log_info("STOMP over TLS on %s:%d", st->tls.stomp_host, st->tls.stomp_port);
    presence_start(srv->presence);
    void *bstate;
    if (broker_ops(&srv->broker_port, &bstate)->subscribe(bstate, WAITS_CHANNEL) != CHATD_OK)
        log_warn("support wait news not subscribed: the lists show this instance's waits only");
    else
        first_response_ask(srv->rooms->first_response);
    retention_start(srv->retention);
    event_base_dispatch(srv->base);
    log_info("stopped serving");
    return 0;
}

/* A routing pass in flight gets its storage answers (they come on this
 * loop, as they would have a moment before it stopped), for at most a
 * second; none starts any more. */
static void server_drain_routing(struct server *srv)
{
    struct routing *rt = srv->rooms ? srv->rooms->routing : NULL;
    routing_close(rt);
    if (srv->rooms)
        first_response_close(srv->rooms->first_response);
    int64_t until = clock_mono_ms() + 1000;
    struct timeval slice = {0, 50000};
    while (routing_busy(rt) && clock_mono_ms() < until) {
        event_base_loopexit(srv->base, &slice);
        event_base_loop(srv->base, EVLOOP_ONCE);
    }
}

void server_teardown(struct server *srv)
{
    server_drain_routing(srv);
    /* The gateway first: no more events from clients. */
    if (srv->gateway) {
        gateway_free(srv->gateway);
        srv->gateway = NULL;
    }
    srv->nout = 0;
    broker_port_forget(&srv->broker_port);
    retention_stop(srv->retention);
    if (srv->presence) /* sessions going now tell nobody */
        presence_on_agents(srv->presence, NULL, NULL);
    if (srv->presence)
        presence_on_status(srv->presence, NULL, NULL);
    session_free_all(srv);
    presence_free(srv->presence);
    addr_rate_free(&srv->visitor_rate);
    srv->presence = NULL;
    if (srv->tasks)
        tasks_close(srv->tasks);
    for (size_t i = srv->nnotify; i-- > 0;)
        plugin_unload(srv->notify[i]);
    free(srv->notify);
    plugin_unload(srv->broker);
    files_rest_drop_all(srv);
    plugin_unload(srv->files);
    if (srv->rooms)
        files_forget_drop(srv->rooms);
    plugin_unload(srv->storage);
    notifier_free(srv->notifier); /* no storage answer can come any more */
    if (srv->rooms) {
        routing_free(srv->rooms->routing);
        srv->rooms->routing = NULL;
        first_response_free(srv->rooms->first_response);
        srv->rooms->first_response = NULL;
        availability_free(srv->rooms->availability);
        srv->rooms->availability = NULL;
    }
    srv->notifier = NULL;
    send_order_free(srv->send_order);
    srv->send_order = NULL;
    retention_free(srv->retention);
    srv->retention = NULL;
    plugin_unload(srv->auth);
    auth_retiring_free(srv->auth_retiring);
    tasks_free(srv->tasks);
    router_free(srv->router);
    free(srv->rooms);
    free(srv->files_policy);
    srv->rooms = NULL;
    if (srv->to_core) {
        xq_destroy(srv->to_core);
        free(srv->to_core);
    }
    for (size_t i = 0; i < srv->nout; i++)
        xmsg_dispose(&srv->out[i]);
    free(srv->out);
    free(srv->credit_ids);
    free(srv->batch);
    struct event *evs[] = {srv->to_core_ev, srv->flush_ev, srv->sig_int, srv->sig_term, srv->sig_hup,
                           srv->pending_timer, srv->stop_timer};
    for (size_t i = 0; i < sizeof evs / sizeof *evs; i++)
        if (evs[i])
            event_free(evs[i]);
    if (srv->base)
        event_base_free(srv->base);
    config_free(srv->config);
    settings_free(&srv->settings);
    memset(srv, 0, sizeof *srv);
}
