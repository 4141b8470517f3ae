#include "rooms/canned_replies.h"

#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "plugins/storage_port.h"
#include "utf8.h"

/* The code point of the valid sequence s[0..n). */
static uint32_t code_point(const unsigned char *s, size_t n)
{
    if (n == 1)
        return s[0];
    uint32_t cp = s[0] & (0x7f >> n);
    for (size_t i = 1; i < n; i++)
        cp = (cp << 6) | (s[i] & 0x3f);
    return cp;
}

static bool control(uint32_t cp)
{
    return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

/* Unicode's white space (White_Space=yes) beyond the controls, and the
 * zero-width ones a word would hide. */
static bool space(uint32_t cp)
{
    return cp == ' ' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200d) || cp == 0x2028 ||
           cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x2060 || cp == 0x3000 || cp == 0xfeff;
}

bool canned_shortcut_normal(const char *in, size_t len, char *out, const char **why)
{
    static const char rule[] = "a shortcut is 1 to 32 characters without spaces, control characters or / ? # % \\ \"";
    const unsigned char *s = (const unsigned char *)in;
    if (len && s[0] == '/')
        s++, len--;
    if (!len || len > CHATD_CANNED_SHORTCUT_MAX || !utf8_valid(s, len)) {
        *why = rule;
        return false;
    }
    size_t chars = 0;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        uint32_t cp = code_point(s + i, n);
        if (control(cp) || space(cp) || (cp < 0x80 && strchr("/?#%\\\"", (int)cp))) {
            *why = rule;
            return false;
        }
        for (size_t k = 0; k < n; k++)
            out[i + k] = (char)(n == 1 && cp >= 'A' && cp <= 'Z' ? cp - 'A' + 'a' : s[i + k]);
        i += n;
        chars++;
    }
    out[len] = '\0';
    if (chars > CANNED_SHORTCUT_CHARS) {
        *why = rule;
        return false;
    }
    return true;
}

/* UTF-8 of 1 to max bytes without control characters other than those
 * `allowed` names. */
static bool text_ok(const char *in, size_t len, size_t max, const char *allowed)
{
    const unsigned char *s = (const unsigned char *)in;
    if (!len || len > max || !utf8_valid(s, len))
        return false;
    for (size_t i = 0; i < len;) {
        size_t n = utf8_seq(s + i, len - i);
        uint32_t cp = code_point(s + i, n);
        if (control(cp) && !(cp && cp < 0x80 && strchr(allowed, (int)cp)))
            return false;
        i += n;
    }
    return true;
}

bool canned_title_ok(const char *s, size_t len, const char **why)
{
    if (text_ok(s, len, CANNED_TITLE_MAX, ""))
        return true;
    *why = "a title is one line of 1 to 200 bytes of UTF-8";
    return false;
}

bool canned_body_ok(const char *s, size_t len, const char **why)
{
    if (text_ok(s, len, CANNED_BODY_MAX, "\n\t\r"))
        return true;
    *why = "a body is 1 to 4000 bytes of UTF-8 (line breaks and tabs, no other control characters)";
    return false;
}

bool canned_may_read(uint32_t roles)
{
    return roles & (CHATD_ROLE_AGENT | CHATD_ROLE_ADMIN);
}

bool canned_may_write(uint32_t roles, bool agents_write)
{
    return (roles & CHATD_ROLE_ADMIN) || (agents_write && (roles & CHATD_ROLE_AGENT));
}

static const struct room_answer NOT_KEPT = {ROOM_NOT_SUPPORTED, "the storage keeps no canned replies"};

/* ------------------------------------------------------------------ list */

struct list_op {
    canned_list_cb cb;
    void *ctx;
};

static void listed(void *ctx, chatd_status st, const struct chatd_canned_reply *replies, size_t n)
{
    struct list_op *op = ctx;
    struct room_answer a = st == CHATD_ERR_UNSUPPORTED ? NOT_KEPT : room_answer_of(st, "no canned replies");
    op->cb(op->ctx, &a, a.status == ROOM_OK ? replies : NULL, a.status == ROOM_OK ? n : 0);
    free(op);
}

void canned_list(struct rooms *r, uint32_t roles, canned_list_cb cb, void *ctx)
{
    if (!canned_may_read(roles)) {
        cb(ctx, &(struct room_answer){ROOM_FORBIDDEN, "canned replies are for agents"}, NULL, 0);
        return;
    }
    if (!storage_has_canned(r->storage)) {
        cb(ctx, &NOT_KEPT, NULL, 0);
        return;
    }
    struct list_op *op = malloc(sizeof *op);
    if (!op) {
        cb(ctx, &(struct room_answer){ROOM_NOMEM, "out of memory"}, NULL, 0);
        return;
    }
    *op = (struct list_op){cb, ctx};
    void *state;
    storage_ops(r->storage, &state)->canned_list(state, CANNED_DESK, CANNED_PER_DESK, listed, op);
}

/* ----------------------------------------------------------- save, remove */

struct change_op {
    canned_saved_cb saved;
    done_answer_cb removed;
    void *ctx;
    struct chatd_canned_reply reply; /* its strings point into the op's own copies */
    char shortcut[CHATD_CANNED_SHORTCUT_MAX + 1];
    char *title, *body, *by;
};

static void change_free(struct change_op *op)
{
    free(op->title);
    free(op->body);
    free(op->by);
    free(op);
}

/* The request checked, as a new op; NULL with the refusal in *refused. */
static struct change_op *change_start(struct rooms *r, const struct canned_request *req, bool save,
                                      struct room_answer *refused)
{
    const char *why = NULL;
    if (!canned_may_write(req->roles, r->canned_agents_write)) {
        *refused = (struct room_answer){ROOM_FORBIDDEN, canned_may_read(req->roles)
                                                            ? "only admins change canned replies"
                                                            : "canned replies are for agents"};
        return NULL;
    }
    struct change_op *op = calloc(1, sizeof *op);
    if (!op) {
        *refused = (struct room_answer){ROOM_NOMEM, "out of memory"};
        return NULL;
    }
    if (!req->shortcut)
        why = "a shortcut is missing";
    else if (canned_shortcut_normal(req->shortcut, req->shortcut_len, op->shortcut, &why) && save) {
        if (!req->title)
            why = "a title is missing";
        else if (!req->body)
            why = "a body is missing";
        else if (canned_title_ok(req->title, req->title_len, &why))
            canned_body_ok(req->body, req->body_len, &why);
    }
    if (why)
        *refused = (struct room_answer){ROOM_BAD_REQUEST, why};
    else if (!storage_has_canned(r->storage))
        *refused = NOT_KEPT;
    else if (save && (!(op->title = strndup(req->title, req->title_len)) ||
                      !(op->body = strndup(req->body, req->body_len)) ||
                      !(op->by = strdup(req->user ? req->user : ""))))
        *refused = (struct room_answer){ROOM_NOMEM, "out of memory"};
    else
        return op;
    change_free(op);
    return NULL;
}

static void saved(void *ctx, chatd_status st, uint64_t n)
{
    struct change_op *op = ctx;
    struct room_answer a;
    if (st == CHATD_ERR_UNSUPPORTED)
        a = NOT_KEPT;
    else if (st == CHATD_ERR_LIMIT)
        a = (struct room_answer){ROOM_CONFLICT, "the desk holds 500 canned replies: delete one first"};
    else
        a = room_answer_of(st, "no such canned reply");
    op->saved(op->ctx, &a, a.status == ROOM_OK ? &op->reply : NULL, a.status == ROOM_OK && n == 1);
    change_free(op);
}

void canned_save(struct rooms *r, const struct canned_request *req, canned_saved_cb cb, void *ctx)
{
    struct room_answer refused;
    struct change_op *op = change_start(r, req, true, &refused);
    if (!op) {
        cb(ctx, &refused, NULL, false);
        return;
    }
    op->saved = cb;
    op->ctx = ctx;
    op->reply = (struct chatd_canned_reply){.size = sizeof op->reply, .desk = CANNED_DESK, .shortcut = op->shortcut,
                                            .title = op->title, .body = op->body, .updated_by = op->by,
                                            .updated_ms = clock_wall_ms()};
    void *state;
    storage_ops(r->storage, &state)->canned_put(state, &op->reply, CANNED_PER_DESK, saved, op);
}

static void removed(void *ctx, chatd_status st)
{
    struct change_op *op = ctx;
    struct room_answer a = st == CHATD_ERR_UNSUPPORTED ? NOT_KEPT : room_answer_of(st, "no such canned reply");
    op->removed(op->ctx, &a);
    change_free(op);
}

void canned_remove(struct rooms *r, const struct canned_request *req, done_answer_cb cb, void *ctx)
{
    struct room_answer refused;
    struct change_op *op = change_start(r, req, false, &refused);
    if (!op) {
        cb(ctx, &refused);
        return;
    }
    op->removed = cb;
    op->ctx = ctx;
    void *state;
    storage_ops(r->storage, &state)->canned_delete(state, CANNED_DESK, op->shortcut, removed, op);
}
