#include "http/files_rest.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_name.h"
#include "file_types.h"
#include "http/http_range.h"
#include "http/rest_call.h"
#include "idmap.h"
#include "log.h"
#include "net/xq.h"
#include "plugins/files_port.h"
#include "rooms/files.h"
#include "server.h"
#include "wire/file_json.h"
#include "wire/query.h"

/* Bytes handed to the plugin in one put_write, and read in one read. */
#define WRITE_CHUNK (256 * 1024)
#define READ_CHUNK (1024 * 1024)

/* ---------------------------------------------------------------- upload */

struct piece {
    struct piece *next;
    char *data;
    size_t len;
};

struct upload {
    struct server *srv;
    uint64_t id;           /* the gateway's request id */
    struct rest_call *c;   /* once authenticated; NULL after the answer */
    char room[64];
    bool refused;          /* answered by the front door: pieces are dropped */
    bool checked;          /* files_may_upload said yes */
    bool busy;             /* an answer of the domain or the plugin is awaited */
    bool ended, gone;      /* the body is complete / the client went away */
    bool begun, finished;  /* put_begin / put_finish answered OK */
    uint64_t expected;     /* Content-Length */
    uint64_t received, written;
    struct piece *head, *tail;
    unsigned char *first;  /* the body's first bytes, for the type */
    size_t nfirst;
    size_t writing;        /* bytes of the put_write under way */
    char *chunk;           /* its buffer */
    char file_id[80];
    const char *type;
    uint32_t width, height;
    char name[FILE_NAME_MAX + 1];
};

/* Nothing to free here: an abort still unanswered when the plugin is
 * unloaded (shutdown) never hears back. */
static void abort_answered(void *ctx, chatd_status st, uint64_t removed)
{
    (void)ctx, (void)removed;
    if (st != CHATD_OK && st != CHATD_ERR_NOT_FOUND)
        log_warn("files: an unfinished upload was not discarded (the plugin discards it at its next start): %s",
                 chatd_strerror(st));
}

/* u goes: its pieces, its plugin upload when one was begun and not
 * finished, its call (unanswered: the caller answered already, or the
 * client is gone). */
static void upload_free(struct upload *u)
{
    idmap_del(&u->srv->uploads, u->id);
    for (struct piece *p = u->head, *next; p; p = next) {
        next = p->next;
        free(p->data);
        free(p);
    }
    if (u->begun && !u->finished && u->srv->files) {
        log_msg(CHATD_LOG_DEBUG, "files", 0, "discarding the unfinished upload %s", u->file_id);
        files_port_put_abort(u->srv->files, u->file_id, abort_answered, NULL);
    }
    if (u->c)
        rest_call_free(u->c);
    free(u->first);
    free(u->chunk);
    free(u);
}

/* Give the gateway back `n` bytes of the window: reading goes on. */
static void credit(struct upload *u, size_t n)
{
    if (!n)
        return;
    struct xmsg m = {.session = u->id, .kind = XM_HTTP_CREDIT};
    m.u.credit = n;
    server_emit(u->srv, &m);
}

/* Answer with an error and go (the rest of the body is dropped). */
static void upload_refuse(struct upload *u, int status, json_t *body)
{
    struct rest_call *c = u->c;
    u->c = NULL;
    rest_respond(c, status, body);
    upload_free(u);
}

static json_t *error_json(const char *code, const char *msg)
{
    return json_pack("{s:s, s:s}", "error", code, "message", msg);
}

static void upload_step(struct upload *u);

static void finished_cb(void *ctx, chatd_status st, const struct chatd_file *f)
{
    struct upload *u = ctx;
    u->busy = false;
    if (st == CHATD_OK && f)
        u->finished = true;
    if (u->gone) {
        upload_free(u);
        return;
    }
    if (st != CHATD_OK || !f) {
        upload_refuse(u, st == CHATD_ERR_LIMIT ? 507 : 503,
                      error_json("files_unavailable", st == CHATD_ERR_LIMIT ? "the file store is full"
                                                                            : "the file could not be stored"));
        return;
    }
    log_msg(CHATD_LOG_INFO, "files", 0, "file %s stored in room %s by %s: %llu bytes, %s", f->id, f->room,
            u->c->user, (unsigned long long)f->length, f->content_type);
    upload_refuse(u, 201, file_json(f)); /* the answer; then u goes */
}

static void written_cb(void *ctx, chatd_status st, uint64_t removed)
{
    (void)removed;
    struct upload *u = ctx;
    u->busy = false;
    size_t n = u->writing;
    u->writing = 0;
    free(u->chunk);
    u->chunk = NULL;
    if (u->gone) {
        upload_free(u);
        return;
    }
    if (st != CHATD_OK) {
        upload_refuse(u, st == CHATD_ERR_LIMIT ? 507 : 503,
                      error_json("files_unavailable", st == CHATD_ERR_LIMIT ? "the file store is full"
                                                                            : "the file could not be stored"));
        return;
    }
    u->written += n;
    credit(u, n);
    upload_step(u);
}

static void begun_cb(void *ctx, chatd_status st, const struct chatd_file *f)
{
    struct upload *u = ctx;
    u->busy = false;
    if (st == CHATD_OK && f) {
        u->begun = true;
        snprintf(u->file_id, sizeof u->file_id, "%s", f->id);
    }
    if (u->gone) {
        upload_free(u);
        return;
    }
    if (!u->begun) {
        upload_refuse(u, 503, error_json("files_unavailable", "the file could not be stored"));
        return;
    }
    upload_step(u);
}

/* Percent-decoded in[...] into out: its length (NUL bytes kept, so that
 * the name's cleaning sees and drops them). */
static size_t pct_decode(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p && o < cap; p++) {
        unsigned x;
        if (*p == '%' && p[1] && p[2] && sscanf(p + 1, "%2x", &x) == 1) {
            out[o++] = (char)x;
            p += 2;
        } else {
            out[o++] = *p;
        }
    }
    return o;
}

/* The name: the query's `name`, else the X-File-Name header (both
 * percent-encoded UTF-8), cleaned; "file" when nothing is left. */
static void upload_name(struct upload *u)
{
    char raw[1024];
    size_t n = 0;
    const char *q = rest_query(u->c, "name", raw, sizeof raw);
    if (q)
        n = strlen(raw);
    else if (u->c->req->file_name)
        n = pct_decode(u->c->req->file_name, raw, sizeof raw);
    if (!n || !file_name_clean(raw, n, u->name, sizeof u->name))
        snprintf(u->name, sizeof u->name, "file");
}

/* The body's first bytes are in: the type, then the plugin's upload. */
static void upload_begin(struct upload *u)
{
    const struct files_policy *p = u->srv->rooms->files_policy;
    enum file_type_verdict v = files_type_check(p, u->c->req->content_type, u->first, u->nfirst,
                                                u->nfirst == u->expected, &u->type, &u->width, &u->height);
    char msg[200];
    switch (v) {
    case FILE_TYPE_OK: break;
    case FILE_TYPE_UNKNOWN:
        upload_refuse(u, 415, error_json("unsupported_type", "the bytes are none of the types a file may have"));
        return;
    case FILE_TYPE_NOT_ALLOWED:
        snprintf(msg, sizeof msg, "files of type %s are not allowed here", file_type_sniff(u->first, u->nfirst,
                                                                                         u->nfirst == u->expected));
        upload_refuse(u, 415, error_json("type_not_allowed", msg));
        return;
    case FILE_TYPE_MISMATCH: {
        char bare[128];
        file_type_bare(u->c->req->content_type, bare, sizeof bare);
        snprintf(msg, sizeof msg, "Content-Type says %.100s, the bytes are %s", bare,
                 file_type_sniff(u->first, u->nfirst, u->nfirst == u->expected));
        upload_refuse(u, 415, error_json("type_mismatch", msg));
        return;
    }
    }
    upload_name(u);
    struct chatd_file f = {.size = sizeof f, .room = u->room, .owner = u->c->user, .name = u->name,
                           .content_type = u->type};
    u->busy = true;
    files_port_put_begin(u->srv->files, &f, begun_cb, u);
}

/* Whatever can happen next: the type once the first bytes are in, the
 * next write, the finish. */
static void upload_step(struct upload *u)
{
    if (u->busy || !u->checked || !u->c)
        return;
    if (!u->begun) {
        size_t need = u->expected < FILE_HEAD_BYTES ? (size_t)u->expected : FILE_HEAD_BYTES;
        if (u->nfirst >= need || u->ended)
            upload_begin(u);
        return;
    }
    if (u->head) {
        size_t n = 0;
        for (struct piece *p = u->head; p && n + p->len <= WRITE_CHUNK; p = p->next)
            n += p->len;
        if (!n) /* one piece larger than a chunk */
            n = u->head->len;
        if (!(u->chunk = malloc(n))) {
            upload_refuse(u, 500, error_json("internal", "out of memory"));
            return;
        }
        size_t o = 0;
        while (u->head && o + u->head->len <= n) {
            struct piece *p = u->head;
            memcpy(u->chunk + o, p->data, p->len);
            o += p->len;
            u->head = p->next;
            free(p->data);
            free(p);
        }
        if (!u->head)
            u->tail = NULL;
        u->writing = o;
        u->busy = true;
        files_port_put_write(u->srv->files, u->file_id, u->chunk, o, written_cb, u);
        return;
    }
    if (!u->ended)
        return;
    if (u->written != u->expected) {
        upload_refuse(u, 400, error_json("bad_request", "the body is shorter than its Content-Length"));
        return;
    }
    struct chatd_file f = {.size = sizeof f, .id = u->file_id, .name = u->name, .content_type = u->type,
                           .length = u->written, .width = u->width, .height = u->height};
    u->busy = true;
    files_port_put_finish(u->srv->files, &f, finished_cb, u);
}

static void checked_cb(void *ctx, const struct room_answer *a, bool over_quota, uint64_t used)
{
    struct upload *u = ctx;
    u->busy = false;
    if (u->gone) {
        upload_free(u);
        return;
    }
    if (over_quota) {
        size_t quota = u->srv->rooms->files_policy->quota;
        char msg[200];
        snprintf(msg, sizeof msg, "this file (%llu bytes) would take your files past your quota of %zu bytes "
                 "(%llu used)", (unsigned long long)u->expected, quota, (unsigned long long)used);
        json_t *j = error_json("quota_exceeded", msg);
        if (j) {
            json_object_set_new(j, "quota", json_integer((json_int_t)quota));
            json_object_set_new(j, "used", json_integer((json_int_t)used));
        }
        upload_refuse(u, 413, j);
        return;
    }
    if (a->status != ROOM_OK) {
        struct rest_call *c = u->c;
        u->c = NULL;
        rest_room_error(c, a);
        upload_free(u);
        return;
    }
    u->checked = true;
    upload_step(u);
}

void files_rest_upload_open(struct server *srv, uint64_t id)
{
    struct upload *u = calloc(1, sizeof *u);
    if (!u)
        return; /* its pieces are dropped; the call answers 500 when it finds no upload */
    u->srv = srv;
    u->id = id;
    if (idmap_put(&srv->uploads, id, u) < 0)
        free(u);
}

void files_rest_upload_refused(struct server *srv, uint64_t id)
{
    struct upload *u = idmap_get(&srv->uploads, id);
    if (u)
        upload_free(u);
}

void files_rest_body(struct server *srv, uint64_t id, char *data, size_t len, bool end, bool aborted)
{
    struct upload *u = idmap_get(&srv->uploads, id);
    if (!u) {
        free(data);
        return;
    }
    if (aborted) {
        u->gone = true;
        if (!u->busy)
            upload_free(u);
        return;
    }
    if (end)
        u->ended = true;
    if (len) {
        u->received += len;
        size_t keep = u->nfirst < FILE_HEAD_BYTES ? FILE_HEAD_BYTES - u->nfirst : 0;
        keep = keep < len ? keep : len;
        if (keep) {
            if (!u->first && !(u->first = malloc(FILE_HEAD_BYTES))) {
                free(data);
                if (u->c)
                    upload_refuse(u, 500, error_json("internal", "out of memory"));
                return;
            }
            memcpy(u->first + u->nfirst, data, keep);
            u->nfirst += keep;
        }
        struct piece *p = malloc(sizeof *p);
        if (!p) {
            free(data);
            if (u->c)
                upload_refuse(u, 500, error_json("internal", "out of memory"));
            return;
        }
        *p = (struct piece){NULL, data, len};
        if (u->tail)
            u->tail->next = p;
        else
            u->head = p;
        u->tail = p;
    } else {
        free(data);
    }
    upload_step(u);
}

struct download;
static void download_free(struct download *d);

void files_rest_drop_all(struct server *srv)
{
    size_t pos = 0;
    uint64_t id;
    void *v;
    while (pos = 0, idmap_next(&srv->uploads, &pos, &id, &v))
        upload_free(v);
    idmap_free(&srv->uploads);
    while (pos = 0, idmap_next(&srv->downloads, &pos, &id, &v))
        download_free(v);
    idmap_free(&srv->downloads);
}

static void upload_start(struct rest_call *c, const char *room)
{
    struct upload *u = idmap_get(&c->srv->uploads, c->id);
    if (!u) {
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    u->c = c;
    u->expected = c->req->content_length;
    snprintf(u->room, sizeof u->room, "%s", room);
    u->busy = true;
    files_may_upload(c->srv->rooms, room, c->user, u->expected, checked_cb, u);
}

/* -------------------------------------------------------------- download */

/* A download is read from the plugin READ_CHUNK at a time and each chunk
 * handed to the gateway as a piece of the response; the next read starts
 * only while at most one chunk waits there unwritten (XM_HTTP_SENT
 * credits a piece written), so a download holds about two chunks however
 * large the file and however slow its client. */
#define DOWNLOAD_WINDOW (2 * (size_t)READ_CHUNK)

struct download {
    struct server *srv;
    uint64_t id;             /* the gateway's request id */
    struct rest_call *c;     /* until the headers went out; then NULL */
    char file_id[80];
    char room[64];
    const char *type;        /* static */
    char *disposition;
    uint64_t first, last;    /* the bytes answered, both included */
    uint64_t total;          /* the file's length */
    bool partial;
    uint64_t next;           /* the next byte to read */
    uint64_t left;           /* bytes not read yet */
    size_t inflight;         /* bytes handed to the gateway, not written yet */
    bool busy;               /* an answer of the domain or the plugin is awaited */
    bool gone;               /* the client went away: free at the answer */
};

static void download_free(struct download *d)
{
    idmap_del(&d->srv->downloads, d->id);
    if (d->c)
        rest_call_free(d->c);
    free(d->disposition);
    free(d);
}

/* Answer with an error (before the headers went out) and go. */
static void download_error(struct download *d, int status, const char *code, const char *msg)
{
    struct rest_call *c = d->c;
    d->c = NULL;
    rest_error(c, status, code, "%s", msg);
    download_free(d);
}

/* The media type as answered: a static string of the known types. */
static const char *answer_type(const char *t)
{
    static const char *const types[] = {"image/png", "image/jpeg", "image/gif", "image/webp", "application/pdf"};
    for (size_t i = 0; i < sizeof types / sizeof *types; i++)
        if (strcmp(t, types[i]) == 0)
            return types[i];
    if (strcmp(t, "text/plain") == 0)
        return "text/plain; charset=utf-8";
    return "application/octet-stream";
}

/* inline for images (a preview), attachment for the rest; the name twice:
 * an ASCII stand-in and RFC 8187's UTF-8 form (RFC 6266). */
static char *disposition_of(const struct chatd_file *f)
{
    char ascii[FILE_NAME_MAX + 1];
    file_name_ascii(f->name, ascii, sizeof ascii);
    char enc[3 * FILE_NAME_MAX + 1];
    size_t o = 0;
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *p = (const unsigned char *)f->name; *p && o + 4 < sizeof enc; p++) {
        bool plain = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
                     strchr("!#$&+-.^_`|~", *p);
        if (plain) {
            enc[o++] = (char)*p;
        } else {
            enc[o++] = '%';
            enc[o++] = hex[*p >> 4];
            enc[o++] = hex[*p & 15];
        }
    }
    enc[o] = '\0';
    char *out = NULL;
    bool image = strncmp(f->content_type, "image/", 6) == 0;
    if (asprintf(&out, "%s; filename=\"%s\"; filename*=UTF-8''%s", image ? "inline" : "attachment", ascii, enc) < 0)
        return NULL;
    return out;
}

/* The headers, once the first chunk is in hand (a file gone meanwhile
 * still answers 404). */
static void download_headers(struct download *d)
{
    char *range = NULL;
    if (d->partial && asprintf(&range, "bytes %llu-%llu/%llu", (unsigned long long)d->first,
                               (unsigned long long)d->last, (unsigned long long)d->total) < 0)
        range = NULL;
    struct rest_call *c = d->c;
    d->c = NULL;
    char *disposition = d->disposition;
    d->disposition = NULL;
    rest_respond_file_stream(c, d->partial ? 206 : 200, d->type, disposition, range, d->last - d->first + 1);
}

/* A piece of the body to the gateway (aborted: the rest cannot come). */
static void download_piece(struct download *d, char *data, size_t len, bool aborted)
{
    struct xmsg m = {.session = d->id, .kind = XM_HTTP_PIECE};
    m.u.http_body.data = data;
    m.u.http_body.len = len;
    m.u.http_body.end = !aborted && d->left == 0;
    m.u.http_body.aborted = aborted;
    server_emit(d->srv, &m);
}

static void read_cb(void *ctx, chatd_status st, const struct chatd_file *f, const void *data, size_t len);

/* The next read, when the window has room for it. */
static void download_pump(struct download *d)
{
    if (d->busy || !d->left || d->inflight + READ_CHUNK > DOWNLOAD_WINDOW)
        return;
    d->busy = true;
    files_port_read(d->srv->files, d->file_id, d->next, d->left < READ_CHUNK ? (size_t)d->left : READ_CHUNK,
                    read_cb, d);
}

static void read_cb(void *ctx, chatd_status st, const struct chatd_file *f, const void *data, size_t len)
{
    (void)f;
    struct download *d = ctx;
    d->busy = false;
    if (d->gone) {
        download_free(d);
        return;
    }
    if (st != CHATD_OK || len == 0) {
        if (d->c) {
            bool missing = st == CHATD_ERR_NOT_FOUND;
            download_error(d, missing ? 404 : 503, missing ? "not_found" : "files_unavailable",
                           missing ? "no such file" : "the file could not be read");
            return;
        }
        /* Midway (the file removed, the backend failing): the client
         * sees the connection close short of the length promised. */
        log_warn("files: download of %s stopped at byte %llu: %s", d->file_id, (unsigned long long)d->next,
                 st != CHATD_OK ? chatd_strerror(st) : "the file is shorter than it was");
        download_piece(d, NULL, 0, true);
        download_free(d);
        return;
    }
    size_t n = len < d->left ? len : (size_t)d->left;
    char *piece = malloc(n);
    if (!piece) {
        if (d->c) {
            download_error(d, 500, "internal", "out of memory");
            return;
        }
        download_piece(d, NULL, 0, true);
        download_free(d);
        return;
    }
    memcpy(piece, data, n);
    if (d->c)
        download_headers(d);
    d->next += n;
    d->left -= n;
    d->inflight += n;
    download_piece(d, piece, n, false);
    if (!d->left) {
        download_free(d); /* all handed over: the gateway finishes */
        return;
    }
    download_pump(d);
}

static void readable_cb(void *ctx, const struct room_answer *a, const struct chatd_file *f)
{
    struct download *d = ctx;
    d->busy = false;
    if (d->gone) {
        download_free(d);
        return;
    }
    if (a->status != ROOM_OK) {
        struct rest_call *c = d->c;
        d->c = NULL;
        rest_room_error(c, a);
        download_free(d);
        return;
    }
    d->total = f->length;
    d->type = answer_type(f->content_type);
    d->disposition = disposition_of(f);
    uint64_t first = 0, last = 0;
    switch (http_range_parse(d->c->req->range, f->length, &first, &last)) {
    case HTTP_RANGE_UNSATISFIABLE: {
        char *range = NULL;
        if (asprintf(&range, "bytes */%llu", (unsigned long long)f->length) < 0)
            range = NULL;
        json_t *j = json_pack("{s:s, s:s, s:I}", "error", "range_not_satisfiable", "message",
                              "the range starts beyond the end of the file", "size", (json_int_t)f->length);
        char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
        json_decref(j);
        struct rest_call *c = d->c;
        d->c = NULL;
        rest_respond_file(c, 416, "application/json", NULL, range, body, body ? strlen(body) : 0);
        download_free(d);
        return;
    }
    case HTTP_RANGE_OK:
        d->partial = true;
        break;
    case HTTP_RANGE_NONE:
        first = 0;
        last = f->length ? f->length - 1 : 0;
        break;
    }
    d->first = first;
    d->last = last;
    d->next = first;
    d->left = f->length ? last - first + 1 : 0;
    if (!d->left) { /* an empty file: nothing to stream */
        struct rest_call *c = d->c;
        d->c = NULL;
        char *disposition = d->disposition;
        d->disposition = NULL;
        rest_respond_file(c, 200, d->type, disposition, NULL, strdup(""), 0);
        download_free(d);
        return;
    }
    download_pump(d);
}

static void download_start(struct rest_call *c, const char *room, const char *file)
{
    struct download *d = calloc(1, sizeof *d);
    if (!d || idmap_put(&c->srv->downloads, c->id, d) < 0) {
        free(d);
        rest_error(c, 500, "internal", "out of memory");
        return;
    }
    d->srv = c->srv;
    d->id = c->id;
    d->c = c;
    snprintf(d->file_id, sizeof d->file_id, "%s", file);
    snprintf(d->room, sizeof d->room, "%s", room);
    d->busy = true;
    files_may_read(c->srv->rooms, room, c->user, c->roles, file, readable_cb, d);
}

void files_rest_sent(struct server *srv, uint64_t id, size_t bytes)
{
    struct download *d = idmap_get(&srv->downloads, id);
    if (!d)
        return; /* all handed over already */
    d->inflight -= bytes < d->inflight ? bytes : d->inflight;
    download_pump(d);
}

void files_rest_gone(struct server *srv, uint64_t id)
{
    struct download *d = idmap_get(&srv->downloads, id);
    if (!d)
        return;
    d->gone = true;
    if (!d->busy)
        download_free(d);
}

void files_rest(struct rest_call *c, enum files_request what, const char *room, const char *file)
{
    if (!c->srv->files) {
        if (what == FILES_UPLOAD)
            files_rest_upload_refused(c->srv, c->id);
        rest_error(c, 404, "not_found", "attachments are off on this server ([files] is not set)");
        return;
    }
    if (what == FILES_UPLOAD)
        upload_start(c, room);
    else
        download_start(c, room, file);
}
