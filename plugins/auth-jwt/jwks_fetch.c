/* One HTTPS GET of a JWKS document on the core's libevent base. */
#include "jwks_fetch.h"

#include <dlfcn.h>
#include <ctype.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/keyvalq_struct.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jwks_fetch {
    struct evhttp_connection *conn;
    struct evhttp_request *req; /* NULL once answered */
    struct event *deadline;
    jwks_fetch_cb cb;           /* NULL once called, or cancelled */
    void *arg;
    char error[160];
};

/* libevent frees a bufferevent from the loop after bufferevent_free (a
 * finalizer), with the code of the module that made it: libevent_openssl
 * must stay loaded after this plugin is unloaded (at shutdown, or when a
 * reload retires it), or the base calls into unmapped code. */
static void stay_loaded(void *symbol)
{
    Dl_info info;
    if (dladdr(symbol, &info) && info.dli_fname)
        (void)dlopen(info.dli_fname, RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
}

SSL_CTX *jwks_fetch_tls(const char *ca_file, const char **why)
{
    stay_loaded((void *)bufferevent_openssl_socket_new);
    stay_loaded((void *)evhttp_connection_base_bufferevent_new);
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (!ctx) {
        *why = "cannot make a TLS context";
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL) : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        *why = ca_file ? "cannot read the CA certificates (a PEM file)" : "cannot read the system's CA certificates";
        SSL_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

long jwks_fetch_max_age(const char *cc)
{
    long age = -1;
    for (const char *p = cc; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',')
            p++;
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if ((n >= 8 && strncasecmp(p, "no-cache", 8) == 0) || (n >= 8 && strncasecmp(p, "no-store", 8) == 0))
            return -1;
        if (n > 8 && strncasecmp(p, "max-age=", 8) == 0 && isdigit((unsigned char)p[8])) {
            long v = 0;
            for (size_t i = 8; i < n && isdigit((unsigned char)p[i]); i++)
                v = v < 100000000 ? v * 10 + (p[i] - '0') : v;
            age = v;
        }
        p = end ? end + 1 : p + n;
    }
    return age;
}

static void finish(struct jwks_fetch *f, const char *err, const unsigned char *body, size_t len, long max_age)
{
    jwks_fetch_cb cb = f->cb;
    f->cb = NULL;
    evtimer_del(f->deadline);
    if (cb)
        cb(f->arg, err, body, len, max_age);
}

/* What the TLS layer has to say about a failure, if anything. */
static const char *tls_error(struct jwks_fetch *f)
{
    struct bufferevent *bev = f->conn ? evhttp_connection_get_bufferevent(f->conn) : NULL;
    unsigned long e = bev ? bufferevent_get_openssl_error(bev) : 0;
    if (!e || !ERR_GET_LIB(e)) /* a socket's error, not the TLS layer's */
        return NULL;
    char text[120];
    ERR_error_string_n(e, text, sizeof text);
    snprintf(f->error, sizeof f->error, "TLS: %s", text);
    while (bufferevent_get_openssl_error(bev))
        ;
    return f->error;
}

static void on_response(struct evhttp_request *req, void *arg)
{
    struct jwks_fetch *f = arg;
    f->req = NULL; /* libevent frees it after this callback */
    if (!f->cb)
        return;
    int code = req ? evhttp_request_get_response_code(req) : 0;
    if (code != 200) {
        const char *tls = tls_error(f);
        if (tls)
            finish(f, tls, NULL, 0, -1);
        else if (code)
            finish(f, (snprintf(f->error, sizeof f->error, "HTTP status %d", code), f->error), NULL, 0, -1);
        else if (!f->error[0])
            finish(f, "no response (connection refused or closed)", NULL, 0, -1);
        else
            finish(f, f->error, NULL, 0, -1);
        return;
    }
    struct evbuffer *in = evhttp_request_get_input_buffer(req);
    size_t len = evbuffer_get_length(in);
    const unsigned char *body = len ? evbuffer_pullup(in, -1) : (const unsigned char *)"";
    const char *cc = evhttp_find_header(evhttp_request_get_input_headers(req), "Cache-Control");
    finish(f, body ? NULL : "out of memory", body, body ? len : 0, jwks_fetch_max_age(cc));
}

static void on_request_error(enum evhttp_request_error e, void *arg)
{
    struct jwks_fetch *f = arg;
    const char *tls = tls_error(f);
    if (tls)
        return; /* on_response reports it */
    snprintf(f->error, sizeof f->error, "%s",
             e == EVREQ_HTTP_TIMEOUT          ? "timed out"
             : e == EVREQ_HTTP_EOF            ? "connection closed before the whole response"
             : e == EVREQ_HTTP_INVALID_HEADER ? "malformed response"
             : e == EVREQ_HTTP_DATA_TOO_LONG  ? "response too large"
                                              : "request failed");
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    finish(arg, "timed out", NULL, 0, -1);
}

struct jwks_fetch *jwks_fetch_start(struct event_base *base, struct evdns_base *dns, SSL_CTX *tls,
                                    const struct evhttp_uri *uri, long timeout_ms, size_t max_bytes,
                                    jwks_fetch_cb cb, void *arg)
{
    const char *host = evhttp_uri_get_host(uri);
    int port = evhttp_uri_get_port(uri);
    const char *path = evhttp_uri_get_path(uri), *query = evhttp_uri_get_query(uri);
    struct jwks_fetch *f = calloc(1, sizeof *f);
    SSL *ssl = f && host ? SSL_new(tls) : NULL;
    if (!ssl) {
        free(f);
        return NULL;
    }
    f->cb = cb;
    f->arg = arg;
    /* the name the certificate must carry: an address or a DNS name */
    unsigned char bin[16];
    X509_VERIFY_PARAM *vp = SSL_get0_param(ssl);
    if (inet_pton(AF_INET, host, bin) == 1 || inet_pton(AF_INET6, host, bin) == 1) {
        X509_VERIFY_PARAM_set1_ip_asc(vp, host);
    } else {
        SSL_set_tlsext_host_name(ssl, host);
        X509_VERIFY_PARAM_set1_host(vp, host, 0);
    }
    struct bufferevent *bev = bufferevent_openssl_socket_new(base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
                                                             BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
    if (!bev) {
        SSL_free(ssl);
        free(f);
        return NULL;
    }
    bufferevent_openssl_set_allow_dirty_shutdown(bev, 1);
    f->conn = evhttp_connection_base_bufferevent_new(base, dns, bev, host, (unsigned short)(port > 0 ? port : 443));
    f->deadline = evtimer_new(base, on_deadline, f);
    f->req = evhttp_request_new(on_response, f);
    if (!f->conn || !f->deadline || !f->req) {
        if (!f->conn)
            bufferevent_free(bev);
        if (f->req)
            evhttp_request_free(f->req);
        f->req = NULL;
        jwks_fetch_cancel(f);
        return NULL;
    }
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    evhttp_connection_set_timeout_tv(f->conn, &tv);
    evhttp_connection_set_retries(f->conn, 0);
    evhttp_connection_set_max_body_size(f->conn, (ev_ssize_t)max_bytes);
    evtimer_add(f->deadline, &tv);
    evhttp_request_set_error_cb(f->req, on_request_error);
    struct evkeyvalq *out = evhttp_request_get_output_headers(f->req);
    char host_header[300];
    if (port > 0 && port != 443)
        snprintf(host_header, sizeof host_header, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    else
        snprintf(host_header, sizeof host_header, strchr(host, ':') ? "[%s]" : "%s", host);
    evhttp_add_header(out, "Host", host_header);
    evhttp_add_header(out, "Accept", "application/jwk-set+json, application/json");
    evhttp_add_header(out, "User-Agent", "chatd-auth-jwt");
    evhttp_add_header(out, "Connection", "close");
    char target[2048];
    snprintf(target, sizeof target, "%s%s%s", path && *path ? path : "/", query ? "?" : "", query ? query : "");
    struct evhttp_request *req = f->req;
    if (evhttp_make_request(f->conn, req, EVHTTP_REQ_GET, target) != 0) {
        f->req = NULL; /* freed by evhttp_make_request on failure */
        jwks_fetch_cancel(f);
        return NULL;
    }
    return f;
}

void jwks_fetch_cancel(struct jwks_fetch *f)
{
    if (!f)
        return;
    f->cb = NULL;
    if (f->conn)
        evhttp_connection_free(f->conn); /* and the request it holds, without its callback */
    if (f->deadline)
        event_free(f->deadline);
    free(f);
}
