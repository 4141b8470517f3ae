/* One HTTPS GET of a small document (a JWKS) on a libevent base: the
 * name resolved with evdns, the connection made and the response read
 * without blocking, the server's certificate checked against the CA file
 * (or the system's) and the URL's host name, the body bounded in bytes
 * and the whole exchange in time. */
#ifndef CHATD_JWKS_FETCH_H
#define CHATD_JWKS_FETCH_H

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <openssl/ssl.h>
#include <stddef.h>

/* err: NULL on a 200 response (body, len: the body, max_age_s its
 * Cache-Control max-age or -1), else what went wrong, for a log line.
 * Called once, from the loop, unless the fetch was cancelled first. */
typedef void (*jwks_fetch_cb)(void *arg, const char *err, const unsigned char *body, size_t len,
                              long max_age_s);

struct jwks_fetch;

/* A client context for fetches: TLS 1.2 at least, peers verified against
 * ca_file's certificates (NULL: the system's). NULL and *why on failure. */
SSL_CTX *jwks_fetch_tls(const char *ca_file, const char **why);

/* Start a GET of uri (an https URI evhttp_uri_parse accepted). NULL when
 * it could not start (out of memory). */
struct jwks_fetch *jwks_fetch_start(struct event_base *base, struct evdns_base *dns, SSL_CTX *tls,
                                    const struct evhttp_uri *uri, long timeout_ms, size_t max_bytes,
                                    jwks_fetch_cb cb, void *arg);

/* Stop it: the callback is not called, everything is freed. */
void jwks_fetch_cancel(struct jwks_fetch *f);

/* The max-age of a Cache-Control value, or -1 (none, no-cache, no-store). */
long jwks_fetch_max_age(const char *cache_control);

#endif
