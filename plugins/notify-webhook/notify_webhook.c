/* notify-webhook: offline notifications as signed HTTP(S) POSTs.
 *
 * notify() only appends to a bounded queue; the core loop never waits for
 * the receiver. Up to `concurrency` requests are in flight, each on its own
 * connection from libevent's HTTP client (with evdns, so resolving does not
 * block either). A failed request (connection error, timeout, 429, 5xx) is
 * retried with a doubling delay up to `retries` times, with the same body,
 * signature time and delivery id, so the receiver can drop duplicates. A
 * full queue drops the oldest notification: counted, logged, never waited
 * for.
 *
 * Signature: X-Chatd-Signature: t=UNIX_SECONDS,v1=HEX where HEX is
 * HMAC-SHA256(secret, "UNIX_SECONDS." + body) (docs/notifications.md). */
#include <chatd/plugin.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "plugin_conf.h"

/* A notification waiting in the queue. */
struct item {
    struct item *next;
    size_t len;
    char json[];
};

struct hook;

/* One POST, with its retries. */
struct job {
    struct job *prev, *next;
    struct hook *h;
    char *body;
    size_t len, count; /* bytes; notifications in it */
    char delivery[33];
    char signature[128];
    unsigned attempts;
    bool done;           /* answered for good: freed by the reaper */
    struct evhttp_connection *conn;
    struct event *timer; /* the next attempt */
};

struct header {
    char *name, *value;
};

struct hook {
    const struct chatd_host *host;
    struct event_base *base;
    struct evdns_base *dns;
    SSL_CTX *ssl;
    bool https;
    char *host_name, *path, *host_header;
    int port;
    char *secret;
    size_t secret_len;
    long long timeout_ms, backoff_ms, max_backoff_ms;
    size_t retries, max_queue, batch, concurrency;
    struct header *headers;
    size_t nheaders;

    struct item *head, *tail;
    size_t queued;
    struct job *jobs; /* in flight or waiting to retry */
    size_t njobs;
    struct event *pump;
    /* libevent must not free a connection from inside its own callback:
     * finished jobs and connections wait for this event. */
    struct event *reap;
    struct evhttp_connection **dead;
    size_t ndead, dead_cap;
    bool stopping;
};

/* ------------------------------------------------------------- config */

static chatd_status parse_url(struct hook *w, const char *url)
{
    const struct chatd_host *h = w->host;
    struct evhttp_uri *u = url ? evhttp_uri_parse(url) : NULL;
    const char *scheme = u ? evhttp_uri_get_scheme(u) : NULL;
    const char *host = u ? evhttp_uri_get_host(u) : NULL;
    if (!u || !scheme || !host || !*host || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
        h->config_error(h, "url", url ? "expected http://HOST[:PORT]/PATH or https://..., got '%s'"
                                      : "required: where to POST notifications%s", url ? url : "");
        if (u)
            evhttp_uri_free(u);
        return CHATD_ERR_INVALID;
    }
    w->https = strcmp(scheme, "https") == 0;
    int port = evhttp_uri_get_port(u);
    w->port = port > 0 ? port : w->https ? 443 : 80;
    const char *path = evhttp_uri_get_path(u), *query = evhttp_uri_get_query(u);
    size_t n = strlen(path && *path ? path : "/") + (query ? strlen(query) + 1 : 0) + 1;
    w->path = malloc(n);
    if (w->path)
        snprintf(w->path, n, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
    w->host_name = strdup(host);
    size_t hn = strlen(host) + 16;
    w->host_header = malloc(hn);
    if (w->host_header)
        snprintf(w->host_header, hn, port > 0 ? "%s:%d" : "%s", host, port);
    evhttp_uri_free(u);
    return w->path && w->host_name && w->host_header ? CHATD_OK : CHATD_ERR_NOMEM;
}

/* -------------------------------------------------------------- jobs */

static void pump_soon(struct hook *w)
{
    if (!w->stopping)
        event_active(w->pump, 0, 0);
}

static void job_free(struct job *j)
{
    struct hook *w = j->h;
    if (j->prev)
        j->prev->next = j->next;
    else
        w->jobs = j->next;
    if (j->next)
        j->next->prev = j->prev;
    w->njobs--;
    if (j->timer)
        event_free(j->timer);
    if (j->conn)
        evhttp_connection_free(j->conn);
    free(j->body);
    free(j);
}

static void job_send(struct job *j);

static void on_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    job_send(arg);
}

static void on_reap(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct hook *w = arg;
    for (size_t i = 0; i < w->ndead; i++)
        evhttp_connection_free(w->dead[i]);
    w->ndead = 0;
    for (struct job *j = w->jobs, *next; j; j = next) {
        next = j->next;
        if (j->done)
            job_free(j);
    }
    pump_soon(w);
}

/* Give up this attempt's connection (after the callback returns). */
static void bury(struct hook *w, struct job *j)
{
    if (!j->conn)
        return;
    if (w->ndead == w->dead_cap) {
        size_t cap = w->dead_cap ? w->dead_cap * 2 : 8;
        struct evhttp_connection **v = realloc(w->dead, cap * sizeof *v);
        if (!v)
            return; /* kept on the job: freed with it */
        w->dead = v;
        w->dead_cap = cap;
    }
    w->dead[w->ndead++] = j->conn;
    j->conn = NULL;
    event_active(w->reap, 0, 0);
}

static void job_finish(struct job *j)
{
    j->done = true;
    event_active(j->h->reap, 0, 0);
}

static void job_failed(struct job *j, const char *why)
{
    struct hook *w = j->h;
    if (j->attempts > w->retries) {
        w->host->log(w->host, CHATD_LOG_WARN, "gave up on %zu notification(s) after %u attempts: %s", j->count,
                     j->attempts, why);
        w->host->counter_add(w->host, "failed", j->count);
        job_finish(j);
        return;
    }
    long long ms = w->backoff_ms;
    for (unsigned i = 1; i < j->attempts && ms < w->max_backoff_ms; i++)
        ms *= 2;
    if (ms > w->max_backoff_ms)
        ms = w->max_backoff_ms;
    w->host->log(w->host, CHATD_LOG_INFO, "delivery %s failed (%s); retry %u in %lld ms", j->delivery, why,
                 j->attempts, ms);
    w->host->counter_add(w->host, "retried", 1);
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
    evtimer_add(j->timer, &tv);
}

static void on_response(struct evhttp_request *req, void *arg)
{
    struct job *j = arg;
    struct hook *w = j->h;
    if (w->stopping)
        return;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    bury(w, j); /* the next attempt gets a connection of its own */
    if (code >= 200 && code < 300) {
        w->host->counter_add(w->host, "delivered", j->count);
        job_finish(j);
        return;
    }
    if (code >= 400 && code < 500 && code != 408 && code != 429) {
        w->host->log(w->host, CHATD_LOG_ERROR, "receiver refused delivery %s with HTTP %d; dropped", j->delivery,
                     code);
        w->host->counter_add(w->host, "refused", j->count);
        job_finish(j);
        return;
    }
    char why[48];
    if (code)
        snprintf(why, sizeof why, "HTTP %d", code);
    else
        snprintf(why, sizeof why, "no response");
    job_failed(j, why);
}

static struct evhttp_connection *connect_receiver(struct hook *w)
{
    struct bufferevent *bev = NULL;
    if (w->https) {
        SSL *ssl = SSL_new(w->ssl);
        if (!ssl)
            return NULL;
        SSL_set_tlsext_host_name(ssl, w->host_name);
        SSL_set1_host(ssl, w->host_name);
        bev = bufferevent_openssl_socket_new(w->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
        if (!bev) {
            SSL_free(ssl);
            return NULL;
        }
    }
    struct evhttp_connection *conn =
        evhttp_connection_base_bufferevent_new(w->base, w->dns, bev, w->host_name, (unsigned short)w->port);
    if (!conn) {
        if (bev)
            bufferevent_free(bev);
        return NULL;
    }
    struct timeval tv = {w->timeout_ms / 1000, (w->timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(conn, &tv);
    evhttp_connection_set_retries(conn, 0);
    return conn;
}

static void job_send(struct job *j)
{
    struct hook *w = j->h;
    j->attempts++;
    j->conn = connect_receiver(w);
    struct evhttp_request *req = j->conn ? evhttp_request_new(on_response, j) : NULL;
    if (!req) {
        job_failed(j, "out of memory");
        return;
    }
    struct evkeyvalq *hd = evhttp_request_get_output_headers(req);
    evhttp_add_header(hd, "Host", w->host_header);
    evhttp_add_header(hd, "Content-Type", "application/json");
    evhttp_add_header(hd, "User-Agent", "chatd-notify-webhook/1.0");
    evhttp_add_header(hd, "X-Chatd-Delivery", j->delivery);
    if (w->secret)
        evhttp_add_header(hd, "X-Chatd-Signature", j->signature);
    for (size_t i = 0; i < w->nheaders; i++)
        evhttp_add_header(hd, w->headers[i].name, w->headers[i].value);
    evbuffer_add(evhttp_request_get_output_buffer(req), j->body, j->len);
    if (evhttp_make_request(j->conn, req, EVHTTP_REQ_POST, w->path) != 0) {
        /* libevent freed req */
        evhttp_connection_free(j->conn);
        j->conn = NULL;
        job_failed(j, "cannot send the request");
    }
}

static void sign(struct hook *w, struct job *j)
{
    unsigned char rnd[16];
    if (RAND_bytes(rnd, sizeof rnd) != 1)
        memset(rnd, 0, sizeof rnd);
    for (size_t i = 0; i < sizeof rnd; i++)
        snprintf(j->delivery + 2 * i, 3, "%02x", rnd[i]);
    if (!w->secret)
        return;
    char stamp[24];
    int sl = snprintf(stamp, sizeof stamp, "%lld.", (long long)time(NULL));
    unsigned char mac[32];
    unsigned int maclen = 0;
    /* HMAC over "t." + body without copying the body. */
    EVP_MAC *m = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *c = m ? EVP_MAC_CTX_new(m) : NULL;
    OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA256", 0), OSSL_PARAM_construct_end()};
    size_t outl = 0;
    if (c && EVP_MAC_init(c, (const unsigned char *)w->secret, w->secret_len, params) == 1 &&
        EVP_MAC_update(c, (const unsigned char *)stamp, (size_t)sl) == 1 &&
        EVP_MAC_update(c, (const unsigned char *)j->body, j->len) == 1 && EVP_MAC_final(c, mac, &outl, sizeof mac) == 1)
        maclen = (unsigned int)outl;
    EVP_MAC_CTX_free(c);
    EVP_MAC_free(m);
    stamp[sl - 1] = '\0';
    int n = snprintf(j->signature, sizeof j->signature, "t=%s,v1=", stamp);
    for (unsigned i = 0; i < maclen && n + 3 < (int)sizeof j->signature; i++)
        n += snprintf(j->signature + n, 3, "%02x", mac[i]);
}

/* Start jobs while there are notifications and free slots. */
static void on_pump(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    struct hook *w = arg;
    while (w->head && w->njobs < w->concurrency) {
        size_t count = 0, len = w->batch > 1 ? 2 : 0;
        for (struct item *it = w->head; it && count < w->batch; it = it->next, count++)
            len += it->len + 1;
        struct job *j = calloc(1, sizeof *j);
        char *body = malloc(len + 1);
        struct event *timer = j ? evtimer_new(w->base, on_retry, j) : NULL;
        if (!j || !body || !timer) {
            free(j);
            free(body);
            if (timer)
                event_free(timer);
            return; /* try again at the next notification */
        }
        size_t at = 0;
        if (w->batch > 1)
            body[at++] = '[';
        for (size_t k = 0; k < count; k++) {
            struct item *it = w->head;
            if (k)
                body[at++] = ',';
            memcpy(body + at, it->json, it->len);
            at += it->len;
            w->head = it->next;
            w->queued--;
            free(it);
        }
        if (!w->head)
            w->tail = NULL;
        if (w->batch > 1)
            body[at++] = ']';
        body[at] = '\0';
        j->h = w;
        j->body = body;
        j->len = at;
        j->count = count;
        j->timer = timer;
        sign(w, j);
        j->next = w->jobs;
        if (w->jobs)
            w->jobs->prev = j;
        w->jobs = j;
        w->njobs++;
        job_send(j);
    }
}

/* ------------------------------------------------------------- notify */

static void hook_notify(void *state, const struct chatd_notification *n)
{
    struct hook *w = state;
    if (w->queued >= w->max_queue) {
        struct item *old = w->head;
        w->head = old->next;
        if (!w->head)
            w->tail = NULL;
        w->queued--;
        free(old);
        w->host->counter_add(w->host, "dropped", 1);
        w->host->log(w->host, CHATD_LOG_WARN, "queue full (%zu): oldest notification dropped", w->max_queue);
    }
    struct item *it = malloc(sizeof *it + n->json_len);
    if (!it) {
        w->host->counter_add(w->host, "dropped", 1);
        return;
    }
    it->next = NULL;
    it->len = n->json_len;
    memcpy(it->json, n->json, n->json_len);
    if (w->tail)
        w->tail->next = it;
    else
        w->head = it;
    w->tail = it;
    w->queued++;
    w->host->counter_add(w->host, "queued", 1);
    pump_soon(w);
}

/* ---------------------------------------------------------- life cycle */

static void hook_free(struct hook *w)
{
    while (w->jobs)
        job_free(w->jobs);
    for (size_t i = 0; i < w->ndead; i++)
        evhttp_connection_free(w->dead[i]);
    free(w->dead);
    if (w->reap)
        event_free(w->reap);
    for (struct item *it = w->head, *next; it; it = next) {
        next = it->next;
        free(it);
    }
    for (size_t i = 0; i < w->nheaders; i++) {
        free(w->headers[i].name);
        free(w->headers[i].value);
    }
    free(w->headers);
    if (w->pump)
        event_free(w->pump);
    if (w->dns)
        evdns_base_free(w->dns, 0);
    if (w->ssl)
        SSL_CTX_free(w->ssl);
    free(w->host_name);
    free(w->host_header);
    free(w->path);
    free(w->secret);
    free(w);
}

static chatd_status hook_init(const struct chatd_host *h, void **state)
{
    if (!CHATD_HOST_HAS(h, counter_add)) {
        h->config_error(h, NULL, "needs chatd with SDK 1.1 or newer");
        return CHATD_ERR_UNSUPPORTED;
    }
    struct hook *w = calloc(1, sizeof *w);
    if (!w)
        return CHATD_ERR_NOMEM;
    w->host = h;
    w->base = h->base;
    long long retries, max_queue, batch, concurrency;
    chatd_status st = parse_url(w, h->config_get(h, "url"));
    if (st == CHATD_OK)
        st = conf_ms(h, "timeout", 5000, 100, 600000, &w->timeout_ms);
    if (st == CHATD_OK)
        st = conf_ms(h, "retry_delay", 1000, 10, 600000, &w->backoff_ms);
    if (st == CHATD_OK)
        st = conf_ms(h, "max_retry_delay", 60000, 10, 3600000, &w->max_backoff_ms);
    if (st == CHATD_OK)
        st = conf_int(h, "retries", 5, 0, 100, &retries);
    if (st == CHATD_OK)
        st = conf_int(h, "max_queue", 10000, 1, 10000000, &max_queue);
    if (st == CHATD_OK)
        st = conf_int(h, "batch", 1, 1, 1000, &batch);
    if (st == CHATD_OK)
        st = conf_int(h, "concurrency", 4, 1, 256, &concurrency);
    if (st != CHATD_OK) {
        hook_free(w);
        return st;
    }
    w->retries = (size_t)retries;
    w->max_queue = (size_t)max_queue;
    w->batch = (size_t)batch;
    w->concurrency = (size_t)concurrency;
    const char *secret = h->config_get(h, "secret");
    if (secret && *secret) {
        w->secret = strdup(secret);
        w->secret_len = strlen(secret);
    }
    /* header.NAME = VALUE: sent with every request (e.g. Authorization). */
    for (size_t i = 0; i < h->config_count(h); i++) {
        const char *key = h->config_key(h, i);
        if (strncmp(key, "header.", 7) != 0 || !key[7])
            continue;
        struct header *v = realloc(w->headers, (w->nheaders + 1) * sizeof *v);
        if (!v) {
            hook_free(w);
            return CHATD_ERR_NOMEM;
        }
        w->headers = v;
        v[w->nheaders].name = strdup(key + 7);
        v[w->nheaders].value = strdup(h->config_value(h, i));
        w->nheaders++;
        if (!v[w->nheaders - 1].name || !v[w->nheaders - 1].value) {
            hook_free(w);
            return CHATD_ERR_NOMEM;
        }
    }
    if (w->https) {
        const char *ca = h->config_get(h, "ca_file");
        w->ssl = SSL_CTX_new(TLS_client_method());
        if (!w->ssl || (ca ? SSL_CTX_load_verify_locations(w->ssl, ca, NULL) != 1
                           : SSL_CTX_set_default_verify_paths(w->ssl) != 1)) {
            h->config_error(h, ca ? "ca_file" : "url", "cannot load CA certificates%s%s", ca ? " from " : "",
                            ca ? ca : "");
            hook_free(w);
            return CHATD_ERR_INVALID;
        }
        SSL_CTX_set_verify(w->ssl, SSL_VERIFY_PEER, NULL);
        SSL_CTX_set_min_proto_version(w->ssl, TLS1_2_VERSION);
    }
    w->dns = evdns_base_new(w->base, EVDNS_BASE_INITIALIZE_NAMESERVERS | EVDNS_BASE_DISABLE_WHEN_INACTIVE);
    w->pump = event_new(w->base, -1, 0, on_pump, w);
    w->reap = event_new(w->base, -1, 0, on_reap, w);
    if (!w->dns || !w->pump || !w->reap) {
        h->config_error(h, NULL, "cannot set up the HTTP client (resolver)");
        hook_free(w);
        return CHATD_ERR_INTERNAL;
    }
    *state = w;
    return CHATD_OK;
}

static void hook_fini(void *state)
{
    struct hook *w = state;
    w->stopping = true;
    if (w->queued || w->njobs)
        w->host->log(w->host, CHATD_LOG_WARN, "stopping with %zu notification(s) queued and %zu request(s) pending",
                     w->queued, w->njobs);
    hook_free(w);
}

static const struct chatd_notify_ops hook_ops = {.size = sizeof hook_ops, .notify = hook_notify};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_NOTIFY, .name = "webhook", .version = "1.0",
                    .description = "offline notifications as signed HTTP(S) POSTs, retried, bounded",
                    .init = hook_init, .fini = hook_fini, .ops.notify = &hook_ops)
