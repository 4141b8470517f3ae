#include "http/rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "plugins/auth_port.h"
#include "plugins/loader.h"
#include "http/admin_rest.h"
#include "http/agents_rest.h"
#include "http/api_docs.h"
#include "http/canned_rest.h"
#include "http/presence_rest.h"
#include "http/files_rest.h"
#include "http/http_routes.h"
#include "http/logout_rest.h"
#include "http/notes_rest.h"
#include "wire/query.h"
#include "http/rest_call.h"
#include "log.h"
#include "rooms/availability.h"
#include "rooms/first_response.h"
#include "rooms/presence.h"
#include "http/rooms_rest.h"
#include "http/search_rest.h"
#include "http/support_overview_rest.h"
#include "server.h"
#include "http/user_erase.h"
#include "http/visitors_rest.h"

static void health(struct rest_call *c)
{
    bool storage = c->srv->storage->ready, broker = c->srv->broker->ready;
    bool ready = storage && broker && !c->srv->stopping;
    rest_respond(c, ready ? 200 : 503,
                 json_pack("{s:s, s:b, s:b}", "status", ready ? "ready" : "not ready", "storage", storage,
                           "broker", broker));
}

/* Prometheus text exposition of the core's counters. */
static const char *const latency_le[] = {"0.001", "0.002", "0.005", "0.01", "0.025",
                                         "0.05", "0.1", "0.25", "1", "+Inf"};
static const char *const wait_le[] = {"1", "5", "10", "30", "60", "120", "300", "600", "1800", "+Inf"};
static const char *const handle_le[] = {"60", "300", "600", "900", "1800", "3600", "7200", "14400", "28800", "+Inf"};

static void histogram(FILE *f, const char *name, const char *help, const char *const le[10],
                      const uint64_t buckets[10], double sum)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    uint64_t cum = 0;
    for (size_t i = 0; i < 10; i++) {
        cum += buckets[i];
        fprintf(f, "%s_bucket{le=\"%s\"} %llu\n", name, le[i], (unsigned long long)cum);
    }
    fprintf(f, "%s_sum %.6f\n%s_count %llu\n", name, sum, name, (unsigned long long)cum);
}

/* A Prometheus label value: backslash, double quote and newline escaped. */
static void label_value(FILE *f, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            fprintf(f, "\\%c", *v);
        else if (*v == '\n')
            fputs("\\n", f);
        else
            fputc(*v, f);
    }
}

/* Open chats per agent, the agents this instance heard of (availability's
 * list), at most METRICS_AGENTS_MAX of them in name order: a bounded
 * label set. Nothing when the storage did not answer. */
#define METRICS_AGENTS_MAX 500
static void agents_open_chats(FILE *f, const struct agent_view *agents, size_t n)
{
    fprintf(f, "# HELP chatd_support_agent_open_chats support rooms assigned to the agent and not completed or "
               "closed (agents this instance heard of, at most %d)\n# TYPE chatd_support_agent_open_chats gauge\n",
            METRICS_AGENTS_MAX);
    for (size_t i = 0; i < n && i < METRICS_AGENTS_MAX; i++) {
        fputs("chatd_support_agent_open_chats{agent=\"", f);
        label_value(f, agents[i].name);
        fprintf(f, "\"} %zu\n", agents[i].open);
    }
}

static void metrics_write(struct rest_call *c, const struct agent_view *agents, size_t nagents)
{
    const struct server *srv = c->srv;
    const struct metrics *m = &srv->metrics;
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (!f) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    struct presence_stats ps;
    presence_stats(srv->presence, &ps);
    size_t waiting, breached;
    first_response_counts(srv->rooms ? srv->rooms->first_response : NULL, &waiting, &breached);
    struct metrics_gauges g = {0};
    if (m->live.gauges)
        m->live.gauges(m->live.ctx, &g);
    struct { const char *name, *type, *help; uint64_t v; } rows[] = {
        {"chatd_connections", "gauge", "client connections (WebSocket and TCP) open now", g.connections},
        {"chatd_sessions", "gauge", "STOMP sessions open now (CONNECTED)", g.sessions},
        {"chatd_subscriptions", "gauge", "subscriptions on this instance", g.subscriptions},
        {"chatd_queue_messages", "gauge", "messages waiting in /queue/ destinations", g.queued},
        {"chatd_sessions_opened_total", "counter", "connections accepted", m->sessions_opened},
        {"chatd_sessions_closed_total", "counter", "connections closed", m->sessions_closed},
        {"chatd_frames_in_total", "counter", "STOMP frames received", m->frames_in},
        {"chatd_frames_out_total", "counter", "STOMP frames queued for clients", m->frames_out},
        {"chatd_deliveries_total", "counter", "MESSAGE frames delivered to subscribers", m->deliveries},
        {"chatd_messages_stored_total", "counter", "room messages confirmed by storage", m->messages_stored},
        {"chatd_storage_errors_total", "counter", "room messages storage failed to store", m->storage_errors},
        {"chatd_notifications_total", "counter", "offline notifications handed to the notify plugins",
         m->notifications},
        {"chatd_notifications_coalesced_total", "counter", "offline notifications held back by coalescing",
         m->notifications_coalesced},
        {"chatd_notifications_failed_total", "counter", "notifications (in-band or offline) not built or not handed on",
         m->notifications_failed},
        {"chatd_http_requests_total", "counter", "REST, health and metrics requests", m->http_requests},
        {"chatd_rooms_purged_total", "counter", "closed support rooms removed by [rooms] retention",
         m->rooms_purged},
        {"chatd_users_erased_total", "counter", "users' data erased on request (DELETE /api/users/U)",
         m->users_erased},
        {"chatd_presence_changes_total", "counter", "users' presence changes this instance told", m->presence_changes},
        {"chatd_presence_events_total", "counter", "presence events published, one per change and recipient",
         m->presence_events},
        {"chatd_visitor_tokens_total", "counter", "visitor tokens issued or renewed (POST /api/visitors)",
         m->visitors_issued},
        {"chatd_visitor_tokens_refused_total", "counter",
         "visitor tokens refused by [visitors] max_per_ip_per_hour", m->visitors_refused},
        {"chatd_config_reloads_total", "counter", "configuration reloads applied (SIGHUP, POST /api/admin/reload)",
         m->reloads},
        {"chatd_config_reloads_refused_total", "counter",
         "configuration reloads refused (an invalid file, or a change that needs a restart)", m->reloads_refused},
        {"chatd_support_queue_rooms", "gauge",
         "unassigned support rooms as this instance's last routing pass left them (0 where it does not route)",
         m->support_queue},
        {"chatd_support_first_response_waiting_rooms", "gauge",
         "support rooms whose customer waits for an agent's message, as this instance keeps the waits", waiting},
        {"chatd_support_first_response_breached_rooms", "gauge",
         "of those, the ones past [support] first_response_target", breached},
        {"chatd_support_first_response_breaches_total", "counter",
         "waits that passed [support] first_response_target (counted by the instance that keeps the wait)",
         m->first_response_breaches},
        {"chatd_outbound_batch", "gauge", "frames waiting for the gateway this loop turn", srv->nout},
        {"chatd_storage_ready", "gauge", "1 when the storage plugin is connected", srv->storage->ready},
        {"chatd_broker_ready", "gauge", "1 when the broker plugin is connected", srv->broker->ready},
        {"chatd_presence_peers", "gauge", "other instances this one hears of", ps.peers},
        {"chatd_presence_remote_users", "gauge", "users online on other instances, summed", ps.remote_users},
        {"chatd_presence_remote_watches", "gauge", "room subscriptions on other instances, by user and room",
         ps.remote_watches},
        {"chatd_presence_known_users", "gauge",
         "users whose status or last_seen this instance keeps (at most about [presence] last_seen_max)",
         ps.known_users},
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++)
        fprintf(f, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", rows[i].name, rows[i].help, rows[i].name,
                rows[i].type, rows[i].name, (unsigned long long)rows[i].v);
    histogram(f, "chatd_store_seconds", "SEND to storage confirmation of room messages", latency_le,
              m->store_latency, m->store_latency_sum);
    histogram(f, "chatd_delivery_seconds", "SEND to delivery by this instance of room messages (clocks of instances)",
              latency_le, m->delivery_latency, m->delivery_latency_sum);
    histogram(f, "chatd_support_assign_wait_seconds",
              "support rooms' wait from entering the queue (opened, sent back, reopened) to automatic assignment by "
              "this instance",
              wait_le, m->assign_wait, m->assign_wait_sum);
    histogram(f, "chatd_support_wait_seconds",
              "support rooms' wait from entering the queue (opened, sent back, reopened) to assignment (claimed by "
              "hand or automatically) on this instance",
              wait_le, m->support_wait, m->support_wait_sum);
    histogram(f, "chatd_support_first_response_seconds",
              "support rooms' wait from opening to the first agent message (rooms opened on this instance)", wait_le,
              m->first_response, m->first_response_sum);
    histogram(f, "chatd_support_handle_seconds",
              "support rooms' time from assignment to completion (completed on this instance)", handle_le,
              m->handle_time, m->handle_time_sum);
    if (agents)
        agents_open_chats(f, agents, nagents);
    struct plugin *plugins[] = {srv->auth, srv->storage, srv->broker};
    bool header = false;
    for (size_t i = 0; i < 3 + srv->nnotify; i++) {
        struct plugin *p = i < 3 ? plugins[i] : srv->notify[i - 3];
        for (size_t k = 0; k < p->ncounters; k++) {
            if (!header)
                fprintf(f, "# HELP chatd_plugin_events_total events counted by plugins\n"
                           "# TYPE chatd_plugin_events_total counter\n");
            header = true;
            fprintf(f, "chatd_plugin_events_total{section=\"%s\",event=\"%s\"} %llu\n", p->section,
                    p->counters[k].name, (unsigned long long)p->counters[k].value);
        }
    }
    fclose(f);
    struct xmsg x = {.session = c->id, .kind = XM_HTTP_RESPONSE};
    x.u.http_response.status = out ? 200 : 500;
    x.u.http_response.body = out;
    x.u.http_response.len = out ? len : 0;
    x.u.http_response.content_type = "text/plain; version=0.0.4";
    server_emit(c->srv, &x);
    rest_call_free(c);
}

static void agents_gathered(void *ctx, const struct room_answer *a, const struct agent_view *agents, size_t n,
                            size_t limit)
{
    (void)limit;
    metrics_write(ctx, a->status == ROOM_OK ? agents : NULL, n);
}

static void metrics(struct rest_call *c)
{
    if (c->srv->rooms && c->srv->storage && c->srv->storage->ready)
        agents_gather(c->srv->rooms, agents_gathered, c);
    else
        metrics_write(c, NULL, 0);
}

/* Every path the API answers, and who answers it (docs/rest-api.md). */
enum api_handler {
    API_HEALTH = 1,
    API_METRICS,
    API_ROOMS,
    API_USERS,
    API_AGENTS,
    API_ADMIN_RELOAD,
    API_VISITORS,
    API_LOGOUT,
    API_SEARCH,
    API_CANNED,
    API_PRESENCE,
    API_NOTES,
    API_SUPPORT_OVERVIEW,
    API_FILES,
    API_DOCS,
};

static const struct route api_routes[] = {
    {"*", "/healthz", API_HEALTH, 0},
    {"*", "/metrics", API_METRICS, 0},
    {"GET", "/api/docs", API_DOCS, 0},
    {"GET", "/api/rooms", API_ROOMS, ROOMS_LIST},
    {"POST", "/api/rooms", API_ROOMS, ROOMS_CREATE},
    {"GET", "/api/rooms/{}", API_ROOMS, ROOM_GET},
    {"DELETE", "/api/rooms/{}", API_ROOMS, ROOM_DELETE},
    {"PATCH", "/api/rooms/{}", API_ROOMS, ROOM_RENAME},
    {"GET", "/api/rooms/{}/messages", API_ROOMS, ROOM_HISTORY},
    {"GET", "/api/rooms/{}/search", API_SEARCH, 0},
    {"PATCH", "/api/rooms/{}/messages/{}", API_ROOMS, ROOM_MESSAGE_EDIT},
    {"DELETE", "/api/rooms/{}/messages/{}", API_ROOMS, ROOM_MESSAGE_DELETE},
    {"PUT", "/api/rooms/{}/messages/{}/reactions/{}", API_ROOMS, ROOM_REACTION_ADD},
    {"DELETE", "/api/rooms/{}/messages/{}/reactions/{}", API_ROOMS, ROOM_REACTION_REMOVE},
    {"POST", "/api/rooms/{}/claim", API_ROOMS, ROOM_CLAIM},
    {"POST", "/api/rooms/{}/complete", API_ROOMS, ROOM_COMPLETE},
    {"POST", "/api/rooms/{}/transfer", API_ROOMS, ROOM_TRANSFER},
    {"GET", "/api/rooms/{}/transcript", API_ROOMS, ROOM_TRANSCRIPT},
    {"POST", "/api/rooms/{}/rating", API_ROOMS, ROOM_RATE},
    {"GET", "/api/rooms/{}/notes", API_NOTES, 0},
    {"POST", "/api/rooms/{}/notes", API_NOTES, 1},
    {"POST", "/api/rooms/{}/read", API_ROOMS, ROOM_READ},
    {"POST", "/api/rooms/{}/files", API_FILES, FILES_UPLOAD},
    {"GET", "/api/rooms/{}/files/{}", API_FILES, FILES_DOWNLOAD},
    {"POST", "/api/rooms/{}/members", API_ROOMS, ROOM_MEMBER_ADD},
    {"DELETE", "/api/rooms/{}/members/{}", API_ROOMS, ROOM_MEMBER_REMOVE},
    {"PUT", "/api/rooms/{}/members/{}/role", API_ROOMS, ROOM_MEMBER_ROLE},
    {"GET", "/api/rooms/{}/presence", API_PRESENCE, PRESENCE_ROOM},
    {"GET", "/api/search", API_SEARCH, 0},
    {"GET", "/api/presence", API_PRESENCE, PRESENCE_USERS},
    {"PUT", "/api/presence", API_PRESENCE, PRESENCE_SET},
    {"DELETE", "/api/users/{}", API_USERS, 0},
    {"GET", "/api/agents", API_AGENTS, AGENTS_LIST},
    {"PUT", "/api/agents/me/status", API_AGENTS, AGENTS_STATUS},
    {"GET", "/api/support/canned", API_CANNED, CANNED_LIST},
    {"GET", "/api/support/canned/{}", API_CANNED, CANNED_GET},
    {"PUT", "/api/support/canned/{}", API_CANNED, CANNED_PUT},
    {"DELETE", "/api/support/canned/{}", API_CANNED, CANNED_DELETE},
    {"GET", "/api/support/overview", API_SUPPORT_OVERVIEW, 0},
    {"POST", "/api/admin/reload", API_ADMIN_RELOAD, 0},
    {"POST", "/api/visitors", API_VISITORS, 0},
    {"POST", "/api/logout", API_LOGOUT, 0},
};

static void rest_auth_done(void *ctx, chatd_status st, const struct chatd_identity *who, const char *reason)
{
    struct rest_call *c = ctx;
    if ((st != CHATD_OK || !who || !who->user) && c->req->streamed)
        files_rest_upload_refused(c->srv, c->id);
    if (st != CHATD_OK || !who || !who->user) {
        if (st == CHATD_ERR_DENIED)
            rest_error(c, 401, "unauthorized", "%s", reason ? reason : "access denied");
        else if (st == CHATD_ERR_LIMIT) {
            c->retry_after_s = (unsigned)settings_busy_retry_after_s(&c->srv->settings);
            rest_error(c, 503, "unavailable", "server busy, retry in %u s", c->retry_after_s);
        }
        else
            rest_error(c, 503, "unavailable", "authentication unavailable: %s", chatd_strerror(st));
        return;
    }
    if (!(c->user = strdup(who->user))) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    c->roles = who->roles;
    if (c->route->handler == API_USERS)
        user_erase_rest(c, c->params[0]);
    else if (c->route->handler == API_AGENTS)
        agents_rest(c, (enum agents_request)c->route->request);
    else if (c->route->handler == API_ADMIN_RELOAD)
        admin_reload_rest(c);
    else if (c->route->handler == API_LOGOUT)
        logout_rest(c);
    else if (c->route->handler == API_SEARCH)
        search_rest(c, c->params[0]);
    else if (c->route->handler == API_CANNED)
        canned_rest(c, (enum canned_request_kind)c->route->request, c->params[0]);
    else if (c->route->handler == API_PRESENCE)
        presence_rest(c, (enum presence_request)c->route->request, c->params[0]);
    else if (c->route->handler == API_NOTES)
        notes_rest(c, c->params[0], c->route->request == 1);
    else if (c->route->handler == API_SUPPORT_OVERVIEW)
        support_overview_rest(c);
    else if (c->route->handler == API_FILES)
        files_rest(c, (enum files_request)c->route->request, c->params[0], c->params[1]);
    else
        rooms_rest(c, (enum rooms_request)c->route->request, c->params[0], c->params[1], c->params[2]);
}

void rest_request(struct server *srv, uint64_t id, struct http_request *req)
{
    struct rest_call *c = calloc(1, sizeof *c);
    if (!c) {
        http_request_free(req);
        struct xmsg m = {.session = id, .kind = XM_HTTP_RESPONSE};
        m.u.http_response.status = 500;
        server_emit(srv, &m);
        return;
    }
    c->srv = srv;
    c->id = id;
    c->req = req;
    size_t index;
    struct route_params params;
    char allow[64];
    enum route_result found = route_match(api_routes, sizeof api_routes / sizeof *api_routes, req->method, req->path,
                                          &index, &params, allow, sizeof allow);
    if (found == ROUTE_NO_PATH) {
        rest_error(c, 404, "not_found", "no such endpoint");
        return;
    }
    if (found == ROUTE_NO_METHOD) {
        rest_error(c, 405, "method_not_allowed", "use %s on %s", allow, req->path);
        return;
    }
    c->route = &api_routes[index];
    if (req->streamed) {
        if (c->route->handler != API_FILES || c->route->request != FILES_UPLOAD) {
            rest_error(c, 404, "not_found", "no such endpoint");
            return;
        }
    }
    if (c->route->handler == API_HEALTH) {
        health(c);
        return;
    }
    if (c->route->handler == API_METRICS) {
        metrics(c);
        return;
    }
    if (c->route->handler == API_DOCS) {
        api_docs_rest(c);
        return;
    }
    if (c->route->handler == API_VISITORS) {
        visitors_rest(c); /* its own credentials, never the auth plugin's */
        return;
    }
    for (size_t i = 0; i < params.n; i++) {
        if (!(c->params[i] = strndup(params.v[i], params.len[i]))) {
            rest_error(c, 500, "internal", "out of memory");
            return;
        }
    }
    if (req->body_len) {
        json_error_t jerr;
        c->body = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!c->body) {
            rest_error(c, 400, "bad_json", "body is not JSON: %s (line %d)", jerr.text, jerr.line);
            return;
        }
    }
    /* Credentials: "Bearer TOKEN", or "Basic base64(user:password)", or
     * over HTTPS a client certificate naming its user ([server]
     * tls_client_user), which binds the others to that user. */
    if (req->tls_problem) {
        rest_error(c, 401, "unauthorized", "%s", req->tls_problem);
        return;
    }
    struct chatd_credentials cred = {.remote_addr = req->remote_addr, .tls_identity = req->tls_identity};
    const char *a = req->authorization;
    char decoded[512];
    if (a && strncasecmp(a, "Bearer ", 7) == 0) {
        cred.token = a + 7;
    } else if (a && strncasecmp(a, "Basic ", 6) == 0 && strlen(a + 6) < 680) {
        int n = EVP_DecodeBlock((unsigned char *)decoded, (const unsigned char *)a + 6, (int)strlen(a + 6));
        if (n > 0) {
            decoded[n] = '\0';
            char *colon = strchr(decoded, ':');
            if (colon) {
                *colon = '\0';
                cred.login = decoded;
                cred.passcode = colon + 1;
            }
        }
    }
    if (!cred.token && !cred.login && !cred.tls_identity) {
        rest_error(c, 401, "unauthorized", "send Authorization: Bearer TOKEN (or Basic for static users)");
        return;
    }
    if (req->streamed)
        files_rest_upload_open(srv, id); /* its body's pieces are kept from now on */
    auth_authenticate(srv->auth, &srv->settings.visitors, &cred, rest_auth_done, c);
}
