#include "net/xq.h"

#include <stdlib.h>

#include "net/stomp_frame.h"
#include "tls_files.h"

struct rcbuf *rcbuf_new(size_t len)
{
    struct rcbuf *b = malloc(sizeof *b + len + 1);
    if (!b)
        return NULL;
    atomic_init(&b->refs, 1);
    b->len = len;
    b->utf8 = -1;
    b->origin = 0;
    b->data[len] = '\0';
    return b;
}

struct rcbuf *rcbuf_ref(struct rcbuf *b)
{
    atomic_fetch_add_explicit(&b->refs, 1, memory_order_relaxed);
    return b;
}

void rcbuf_unref(struct rcbuf *b)
{
    if (b && atomic_fetch_sub_explicit(&b->refs, 1, memory_order_acq_rel) == 1)
        free(b);
}

void http_request_free(struct http_request *r)
{
    if (!r)
        return;
    free(r->path);
    free(r->query);
    free(r->authorization);
    free(r->accept);
    free(r->body);
    free(r->remote_addr);
    free(r->origin);
    free(r->tls_identity);
    free(r->content_type);
    free(r->range);
    free(r->file_name);
    free(r);
}

void xmsg_dispose(struct xmsg *m)
{
    switch (m->kind) {
    case XM_HTTP_REQUEST:
        http_request_free(m->u.http_request);
        break;
    case XM_HTTP_RESPONSE:
        free(m->u.http_response.body);
        free(m->u.http_response.disposition);
        free(m->u.http_response.content_range);
        break;
    case XM_HTTP_BODY:
    case XM_HTTP_PIECE:
        free(m->u.http_body.data);
        break;
    case XM_OPENED:
        free(m->u.opened.remote_addr);
        break;
    case XM_TLS_PEER:
        free(m->u.tls_peer.identity);
        break;
    case XM_FRAME:
        stomp_frame_free(m->u.frame);
        break;
    case XM_LIMITS:
        free(m->u.limits);
        break;
    case XM_TLS_CERT:
        tls_cert_bundle_free(m->u.tls_cert);
        break;
    case XM_OUT:
        free(m->u.out.head);
        rcbuf_unref(m->u.out.shared);
        break;
    default:
        break;
    }
}

void xq_init(struct xq *q)
{
    pthread_mutex_init(&q->mu, NULL);
    q->items = NULL;
    q->n = q->cap = 0;
}

void xq_destroy(struct xq *q)
{
    for (size_t i = 0; i < q->n; i++)
        xmsg_dispose(&q->items[i]);
    free(q->items);
    pthread_mutex_destroy(&q->mu);
}

bool xq_push(struct xq *q, const struct xmsg *msgs, size_t n, bool *failed)
{
    *failed = false;
    pthread_mutex_lock(&q->mu);
    bool was_empty = q->n == 0;
    if (q->n + n > q->cap) {
        size_t cap = q->cap ? q->cap : 256;
        while (cap < q->n + n)
            cap *= 2;
        struct xmsg *items = realloc(q->items, cap * sizeof *items);
        if (!items) {
            pthread_mutex_unlock(&q->mu);
            *failed = true;
            return false;
        }
        q->items = items;
        q->cap = cap;
    }
    for (size_t i = 0; i < n; i++)
        q->items[q->n++] = msgs[i];
    pthread_mutex_unlock(&q->mu);
    return was_empty;
}

void xq_take(struct xq *q, struct xmsg **items, size_t *n, size_t *cap)
{
    pthread_mutex_lock(&q->mu);
    struct xmsg *mine = *items;
    size_t mine_cap = *cap;
    *items = q->items;
    *n = q->n;
    *cap = q->cap;
    q->items = mine;
    q->cap = mine_cap;
    q->n = 0;
    pthread_mutex_unlock(&q->mu);
}
