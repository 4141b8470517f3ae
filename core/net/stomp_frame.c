#include "net/stomp_frame.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define COMMAND_MAX 32

static const char *const command_names[] = {
    [STOMP_CMD_NONE] = "?",
    [STOMP_CMD_CONNECT] = "CONNECT",
    [STOMP_CMD_STOMP] = "STOMP",
    [STOMP_CMD_SEND] = "SEND",
    [STOMP_CMD_SUBSCRIBE] = "SUBSCRIBE",
    [STOMP_CMD_UNSUBSCRIBE] = "UNSUBSCRIBE",
    [STOMP_CMD_ACK] = "ACK",
    [STOMP_CMD_NACK] = "NACK",
    [STOMP_CMD_BEGIN] = "BEGIN",
    [STOMP_CMD_COMMIT] = "COMMIT",
    [STOMP_CMD_ABORT] = "ABORT",
    [STOMP_CMD_DISCONNECT] = "DISCONNECT",
    [STOMP_CMD_CONNECTED] = "CONNECTED",
    [STOMP_CMD_MESSAGE] = "MESSAGE",
    [STOMP_CMD_RECEIPT] = "RECEIPT",
    [STOMP_CMD_ERROR] = "ERROR",
};
#define NCOMMANDS (sizeof command_names / sizeof *command_names)

const char *stomp_command_name(enum stomp_command c)
{
    return (size_t)c < NCOMMANDS ? command_names[c] : "?";
}

enum stomp_command stomp_command_parse(const char *s, size_t len)
{
    for (size_t i = 1; i < NCOMMANDS; i++)
        if (strlen(command_names[i]) == len && memcmp(command_names[i], s, len) == 0)
            return (enum stomp_command)i;
    return STOMP_CMD_NONE;
}

const char *stomp_frame_header(const struct stomp_frame *f, const char *name)
{
    for (size_t i = 0; i < f->nheaders; i++)
        if (strcmp(f->headers[i].name, name) == 0)
            return f->headers[i].value;
    return NULL;
}

void stomp_frame_free(struct stomp_frame *f)
{
    free(f);
}

void stomp_limits_default(struct stomp_limits *l)
{
    l->max_frame_size = 1u << 20;
    l->max_headers = 64;
    l->max_header_length = 8192;
    l->max_body_size = 1u << 20;
}

int stomp_negotiate_version(const char *accept)
{
    if (!accept || !*accept)
        return STOMP_V1_0;
    int best = 0;
    const char *p = accept;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        const char *start = p;
        while (*p && *p != ',' && *p != ' ')
            p++;
        size_t n = (size_t)(p - start);
        int v = 0;
        if (n == 3 && memcmp(start, "1.0", 3) == 0)
            v = STOMP_V1_0;
        else if (n == 3 && memcmp(start, "1.1", 3) == 0)
            v = STOMP_V1_1;
        else if (n == 3 && memcmp(start, "1.2", 3) == 0)
            v = STOMP_V1_2;
        if (v > best)
            best = v;
    }
    return best;
}

/* ----------------------------------------------------------------- parser */

enum parse_state {
    P_IDLE,     /* between frames: EOLs are heart-beats */
    P_IDLE_CR,  /* a CR between frames, LF expected */
    P_COMMAND,
    P_HEADERS,
    P_BODY_LEN, /* content-length bytes of body */
    P_BODY_NUL, /* body up to the first NUL */
    P_BODY_END, /* the NUL after a content-length body */
    P_ERROR,
};

struct line {
    size_t off, len;
};

struct stomp_parser {
    struct stomp_limits lim;
    enum parse_state st;
    int version;
    uint64_t heartbeats;
    const char *error;

    char *buf; /* the frame in progress: command, header lines, body */
    size_t len, cap;
    size_t line_start;
    bool prev_cr;
    size_t command_len;
    struct line *lines;
    size_t nlines, lines_cap;
    size_t body_off, body_need;
    size_t frame_bytes;
};

struct stomp_parser *stomp_parser_new(const struct stomp_limits *limits)
{
    struct stomp_parser *p = calloc(1, sizeof *p);
    if (!p)
        return NULL;
    if (limits)
        p->lim = *limits;
    else
        stomp_limits_default(&p->lim);
    return p;
}

static void parser_reset(struct stomp_parser *p)
{
    free(p->buf);
    free(p->lines);
    p->buf = NULL;
    p->lines = NULL;
    p->len = p->cap = p->line_start = p->command_len = 0;
    p->nlines = p->lines_cap = 0;
    p->body_off = p->body_need = p->frame_bytes = 0;
    p->prev_cr = false;
}

void stomp_parser_free(struct stomp_parser *p)
{
    if (!p)
        return;
    parser_reset(p);
    free(p);
}

const char *stomp_parser_error(const struct stomp_parser *p)
{
    return p->error ? p->error : "no error";
}

int stomp_parser_version(const struct stomp_parser *p)
{
    return p->version;
}

uint64_t stomp_parser_heartbeats(const struct stomp_parser *p)
{
    return p->heartbeats;
}

size_t stomp_parser_buffered(const struct stomp_parser *p)
{
    return p->cap + p->lines_cap * sizeof(struct line);
}

static enum stomp_parse_status fail(struct stomp_parser *p, const char *why)
{
    p->st = P_ERROR;
    p->error = why;
    parser_reset(p);
    return STOMP_PARSE_ERROR;
}

static int buf_reserve(struct stomp_parser *p, size_t extra)
{
    if (p->len + extra <= p->cap)
        return 0;
    size_t cap = p->cap ? p->cap : 256;
    while (cap < p->len + extra)
        cap *= 2;
    char *b = realloc(p->buf, cap);
    if (!b)
        return -1;
    p->buf = b;
    p->cap = cap;
    return 0;
}

/* Decode one escaped string of n bytes at in into out (room for n + 1).
 * Returns the decoded length, or -1 on an undefined escape. */
static long unescape(const char *in, size_t n, char *out, int version)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        char c = in[i];
        if (c != '\\' || version < STOMP_V1_1) {
            out[o++] = c;
            continue;
        }
        if (++i == n)
            return -1;
        switch (in[i]) {
        case 'n': out[o++] = '\n'; break;
        case 'c': out[o++] = ':'; break;
        case '\\': out[o++] = '\\'; break;
        case 'r':
            if (version < STOMP_V1_2)
                return -1;
            out[o++] = '\r';
            break;
        default:
            return -1;
        }
    }
    out[o] = '\0';
    return (long)o;
}

static bool is_content_length(const char *line, size_t len)
{
    return len >= 15 && memcmp(line, "content-length:", 15) == 0;
}

/* The header lines are complete: find content-length and choose the body
 * mode. */
static enum stomp_parse_status headers_done(struct stomp_parser *p)
{
    if (stomp_command_parse(p->buf, p->command_len) == STOMP_CMD_NONE)
        return fail(p, "unknown command");
    p->body_off = p->len;
    for (size_t i = 0; i < p->nlines; i++) {
        const char *l = p->buf + p->lines[i].off;
        if (!is_content_length(l, p->lines[i].len))
            continue;
        size_t n = p->lines[i].len - 15;
        if (n == 0 || n > 19)
            return fail(p, n > 19 ? "body too large" : "invalid content-length");
        size_t v = 0;
        for (size_t k = 0; k < n; k++) {
            char c = l[15 + k];
            if (c < '0' || c > '9')
                return fail(p, "invalid content-length");
            v = v * 10 + (size_t)(c - '0');
        }
        if (v > p->lim.max_body_size)
            return fail(p, "body too large");
        p->body_need = v;
        p->st = v ? P_BODY_LEN : P_BODY_END;
        return STOMP_PARSE_MORE;
    }
    p->st = P_BODY_NUL;
    return STOMP_PARSE_MORE;
}

static enum stomp_parse_status build_frame(struct stomp_parser *p, struct stomp_frame **out)
{
    enum stomp_command cmd = stomp_command_parse(p->buf, p->command_len);
    size_t body_len = p->len - p->body_off;
    size_t strings = 0;
    for (size_t i = 0; i < p->nlines; i++)
        strings += p->lines[i].len + 2;
    size_t size = sizeof(struct stomp_frame) + p->nlines * sizeof(struct stomp_header) + strings +
                  body_len + 1;
    struct stomp_frame *f = malloc(size);
    if (!f)
        return fail(p, "out of memory");
    f->command = cmd;
    f->nheaders = p->nlines;
    f->headers = (struct stomp_header *)(f + 1);
    char *s = (char *)(f->headers + p->nlines);
    int version = p->version ? p->version : STOMP_V1_2;
    if (cmd == STOMP_CMD_CONNECT || cmd == STOMP_CMD_STOMP || cmd == STOMP_CMD_CONNECTED)
        version = STOMP_V1_0; /* never escaped */
    for (size_t i = 0; i < p->nlines; i++) {
        const char *l = p->buf + p->lines[i].off;
        size_t n = p->lines[i].len;
        const char *colon = memchr(l, ':', n);
        if (!colon) {
            free(f);
            return fail(p, "header without colon");
        }
        if (colon == l) {
            free(f);
            return fail(p, "empty header name");
        }
        size_t nl = (size_t)(colon - l);
        long a = unescape(l, nl, s, version);
        if (a < 0) {
            free(f);
            return fail(p, "undefined escape sequence");
        }
        f->headers[i].name = s;
        s += a + 1;
        long b = unescape(colon + 1, n - nl - 1, s, version);
        if (b < 0) {
            free(f);
            return fail(p, "undefined escape sequence");
        }
        f->headers[i].value = s;
        f->headers[i].value_len = (size_t)b;
        s += b + 1;
    }
    f->body = s;
    f->body_len = body_len;
    f->wire_len = p->frame_bytes + 1; /* and its NUL */
    if (body_len)
        memcpy(s, p->buf + p->body_off, body_len);
    s[body_len] = '\0';
    if (cmd == STOMP_CMD_CONNECT || cmd == STOMP_CMD_STOMP) {
        int v = stomp_negotiate_version(stomp_frame_header(f, "accept-version"));
        p->version = v ? v : STOMP_V1_2;
    }
    parser_reset(p);
    p->st = P_IDLE;
    *out = f;
    return STOMP_PARSE_FRAME;
}

/* A complete line (without its EOL) at buf[line_start, len). */
static enum stomp_parse_status line_done(struct stomp_parser *p)
{
    size_t n = p->len - p->line_start;
    if (p->st == P_COMMAND) {
        p->command_len = n;
        if (stomp_command_parse(p->buf, n) == STOMP_CMD_NONE)
            return fail(p, "unknown command");
        p->st = P_HEADERS;
    } else if (n == 0) {
        return headers_done(p);
    } else {
        if (p->nlines == p->lim.max_headers)
            return fail(p, "too many headers");
        if (p->nlines == p->lines_cap) {
            size_t cap = p->lines_cap ? p->lines_cap * 2 : 8;
            struct line *l = realloc(p->lines, cap * sizeof *l);
            if (!l)
                return fail(p, "out of memory");
            p->lines = l;
            p->lines_cap = cap;
        }
        p->lines[p->nlines++] = (struct line){p->line_start, n};
    }
    p->line_start = p->len;
    return STOMP_PARSE_MORE;
}

enum stomp_parse_status stomp_parser_feed(struct stomp_parser *p, const char *data, size_t len,
                                          size_t *used, struct stomp_frame **out)
{
    *out = NULL;
    size_t i = 0;
    enum stomp_parse_status rc = STOMP_PARSE_MORE;
    if (p->st == P_ERROR) {
        *used = 0;
        return STOMP_PARSE_ERROR;
    }
    while (i < len) {
        if (p->st == P_BODY_LEN || p->st == P_BODY_NUL) {
            size_t take;
            bool end = false;
            if (p->st == P_BODY_LEN) {
                take = len - i < p->body_need ? len - i : p->body_need;
            } else {
                const char *nul = memchr(data + i, '\0', len - i);
                take = nul ? (size_t)(nul - (data + i)) : len - i;
                end = nul != NULL;
            }
            if (p->len - p->body_off + take > p->lim.max_body_size)
                return fail(p, "body too large");
            if (p->frame_bytes + take > p->lim.max_frame_size)
                return fail(p, "frame too large");
            if (buf_reserve(p, take) < 0)
                return fail(p, "out of memory");
            memcpy(p->buf + p->len, data + i, take);
            p->len += take;
            p->frame_bytes += take;
            i += take;
            if (p->st == P_BODY_LEN) {
                p->body_need -= take;
                if (p->body_need == 0)
                    p->st = P_BODY_END;
            } else if (end) {
                i++; /* the NUL */
                rc = build_frame(p, out);
                break;
            }
            continue;
        }
        char c = data[i++];
        switch (p->st) {
        case P_IDLE:
            if (c == '\n') {
                p->heartbeats++;
                continue;
            }
            if (c == '\r') {
                p->st = P_IDLE_CR;
                continue;
            }
            p->st = P_COMMAND;
            p->frame_bytes = 0;
            break; /* c starts the command: handled below */
        case P_IDLE_CR:
            if (c != '\n')
                return fail(p, "CR inside header");
            p->heartbeats++;
            p->st = P_IDLE;
            continue;
        case P_BODY_END:
            if (c != '\0')
                return fail(p, "missing NUL after body");
            rc = build_frame(p, out);
            goto done;
        default:
            break;
        }
        /* P_COMMAND or P_HEADERS: one byte of a line. */
        if (++p->frame_bytes > p->lim.max_frame_size)
            return fail(p, "frame too large");
        if (p->prev_cr && c != '\n')
            return fail(p, "CR inside header");
        if (c == '\0')
            return fail(p, "NUL inside header");
        if (c == '\n') {
            if (p->prev_cr)
                p->len--; /* drop the CR of a CRLF */
            p->prev_cr = false;
            rc = line_done(p);
            if (rc != STOMP_PARSE_MORE)
                return rc;
            continue;
        }
        p->prev_cr = c == '\r';
        size_t line_len = p->len - p->line_start;
        if (p->st == P_COMMAND && line_len >= COMMAND_MAX)
            return fail(p, "unknown command");
        if (p->st == P_HEADERS && line_len >= p->lim.max_header_length)
            return fail(p, "header too long");
        if (buf_reserve(p, 1) < 0)
            return fail(p, "out of memory");
        p->buf[p->len++] = c;
    }
done:
    *used = i;
    if (rc == STOMP_PARSE_ERROR)
        return rc;
    return *out ? STOMP_PARSE_FRAME : STOMP_PARSE_MORE;
}

/* ---------------------------------------------------------------- encoder */

void stomp_buf_free(struct stomp_buf *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}

static int buf_grow(struct stomp_buf *b, size_t extra)
{
    if (b->len + extra <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 128;
    while (cap < b->len + extra)
        cap *= 2;
    char *d = realloc(b->data, cap);
    if (!d)
        return -1;
    b->data = d;
    b->cap = cap;
    return 0;
}

int stomp_buf_append(struct stomp_buf *b, const void *data, size_t len)
{
    if (buf_grow(b, len) < 0)
        return -1;
    if (len)
        memcpy(b->data + b->len, data, len);
    b->len += len;
    return 0;
}

int stomp_encode_command(struct stomp_buf *b, enum stomp_command c)
{
    const char *name = stomp_command_name(c);
    size_t n = strlen(name);
    if (buf_grow(b, n + 1) < 0)
        return -1;
    memcpy(b->data + b->len, name, n);
    b->data[b->len + n] = '\n';
    b->len += n + 1;
    return 0;
}

static int append_escaped(struct stomp_buf *b, const char *s, size_t n, int version, bool escape)
{
    if (buf_grow(b, 2 * n) < 0)
        return -1;
    char *o = b->data + b->len;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (escape) {
            if (c == '\\') { *o++ = '\\'; *o++ = '\\'; continue; }
            if (c == '\n') { *o++ = '\\'; *o++ = 'n'; continue; }
            if (c == ':') { *o++ = '\\'; *o++ = 'c'; continue; }
            if (c == '\r' && version >= STOMP_V1_2) { *o++ = '\\'; *o++ = 'r'; continue; }
        }
        *o++ = c;
    }
    b->len = (size_t)(o - b->data);
    return 0;
}

int stomp_encode_header_n(struct stomp_buf *b, int version, enum stomp_command c, const char *name,
                          const char *value, size_t value_len)
{
    bool escape = version >= STOMP_V1_1 && c != STOMP_CMD_CONNECT && c != STOMP_CMD_STOMP &&
                  c != STOMP_CMD_CONNECTED;
    /* Unescaped, a line end would start a header of the sender's choosing. */
    if (!escape && (strpbrk(name, ":\r\n") || memchr(value, '\n', value_len) || memchr(value, '\r', value_len)))
        return 0;
    if (append_escaped(b, name, strlen(name), version, escape) < 0 || stomp_buf_append(b, ":", 1) < 0 ||
        append_escaped(b, value, value_len, version, escape) < 0 || stomp_buf_append(b, "\n", 1) < 0)
        return -1;
    return 0;
}

int stomp_encode_header(struct stomp_buf *b, int version, enum stomp_command c, const char *name,
                        const char *value)
{
    return stomp_encode_header_n(b, version, c, name, value, strlen(value));
}

int stomp_encode_body(struct stomp_buf *b, const void *body, size_t len, bool with_content_length)
{
    if (with_content_length) {
        char cl[48];
        int n = snprintf(cl, sizeof cl, "content-length:%zu\n", len);
        if (stomp_buf_append(b, cl, (size_t)n) < 0)
            return -1;
    }
    if (stomp_buf_append(b, "\n", 1) < 0 || stomp_buf_append(b, body, len) < 0 ||
        stomp_buf_append(b, "", 1) < 0)
        return -1;
    return 0;
}
