#include "rooms/files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "file_types.h"
#include "log.h"
#include "plugins/files_port.h"
#include "rooms/room_rules.h"

enum file_type_verdict files_type_check(const struct files_policy *p, const char *declared, const unsigned char *head,
                                        size_t n, bool whole, const char **type, uint32_t *width, uint32_t *height)
{
    *type = NULL;
    *width = *height = 0;
    const char *sniffed = file_type_sniff(head, n, whole);
    if (!sniffed)
        return FILE_TYPE_UNKNOWN;
    char bare[128];
    file_type_bare(declared, bare, sizeof bare);
    if (bare[0] && strcmp(bare, "application/octet-stream") != 0 && strcmp(bare, sniffed) != 0)
        return FILE_TYPE_MISMATCH;
    bool allowed = false;
    for (size_t i = 0; i < p->ntypes && !allowed; i++)
        allowed = strcmp(p->types[i], sniffed) == 0;
    if (!allowed)
        return FILE_TYPE_NOT_ALLOWED;
    *type = sniffed;
    file_image_size(head, n, sniffed, width, height);
    return FILE_TYPE_OK;
}

struct files_op {
    struct rooms *r;
    void *cb, *ctx;
    char room[ROOM_ID_MAX];
    char user[USER_NAME_MAX + 1];
    char file[80];
    uint32_t roles;
    uint64_t length;
};

static struct files_op *op_new(struct rooms *r, const char *room_id, const char *user, void *cb, void *ctx)
{
    struct files_op *op = calloc(1, sizeof *op);
    if (!op)
        return NULL;
    op->r = r;
    op->cb = cb;
    op->ctx = ctx;
    snprintf(op->room, sizeof op->room, "%s", room_id);
    snprintf(op->user, sizeof op->user, "%s", user);
    return op;
}

static const struct room_answer nomem = {ROOM_NOMEM, "out of memory"};
static const struct room_answer no_room = {ROOM_NOT_FOUND, "no such room"};

static void upload_answer(struct files_op *op, struct room_answer a, bool over, uint64_t used)
{
    ((files_upload_cb)op->cb)(op->ctx, &a, over, used);
    free(op);
}

static void usage_cb(void *ctx, chatd_status st, uint64_t bytes, uint64_t files)
{
    (void)files;
    struct files_op *op = ctx;
    if (st != CHATD_OK) {
        upload_answer(op, (struct room_answer){ROOM_UNAVAILABLE, chatd_strerror(st)}, false, 0);
        return;
    }
    size_t quota = op->r->files_policy->quota;
    if (quota && (bytes > quota || op->length > quota - bytes)) {
        upload_answer(op, (struct room_answer){ROOM_LIMIT, "quota exceeded"}, true, bytes);
        return;
    }
    upload_answer(op, (struct room_answer){ROOM_OK, NULL}, false, bytes);
}

static void upload_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct files_op *op = ctx;
    if (a->status != ROOM_OK) {
        upload_answer(op, *a, false, 0);
        return;
    }
    if (!room_is_member(room, op->user)) {
        upload_answer(op, no_room, false, 0);
        return;
    }
    if (room_read_only(room)) {
        upload_answer(op, (struct room_answer){ROOM_CONFLICT, "the room takes no new messages"}, false, 0);
        return;
    }
    files_port_usage(op->r->files, op->user, usage_cb, op);
}

void files_may_upload(struct rooms *r, const char *room_id, const char *user, uint64_t length, files_upload_cb cb,
                      void *ctx)
{
    struct files_op *op = op_new(r, room_id, user, (void *)cb, ctx);
    if (!op) {
        cb(ctx, &nomem, false, 0);
        return;
    }
    op->length = length;
    rooms_look_up(r, op->room, NULL, upload_room_cb, op);
}

static void read_answer(struct files_op *op, struct room_answer a, const struct chatd_file *f)
{
    ((files_read_cb)op->cb)(op->ctx, &a, f);
    free(op);
}

static void file_cb(void *ctx, chatd_status st, const struct chatd_file *f, const void *data, size_t len)
{
    (void)data, (void)len;
    struct files_op *op = ctx;
    if (st == CHATD_ERR_NOT_FOUND || (st == CHATD_OK && (!f || !f->room || strcmp(f->room, op->room) != 0))) {
        read_answer(op, (struct room_answer){ROOM_NOT_FOUND, "no such file"}, NULL);
        return;
    }
    if (st != CHATD_OK) {
        read_answer(op, (struct room_answer){ROOM_UNAVAILABLE, chatd_strerror(st)}, NULL);
        return;
    }
    read_answer(op, (struct room_answer){ROOM_OK, NULL}, f);
}

static void read_room_cb(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct files_op *op = ctx;
    if (a->status != ROOM_OK) {
        read_answer(op, *a, NULL);
        return;
    }
    if (!room_can_see(room, op->user, op->roles)) {
        read_answer(op, no_room, NULL);
        return;
    }
    files_port_read(op->r->files, op->file, 0, 0, file_cb, op);
}

void files_may_read(struct rooms *r, const char *room_id, const char *user, uint32_t roles, const char *file_id,
                    files_read_cb cb, void *ctx)
{
    struct files_op *op = op_new(r, room_id, user, (void *)cb, ctx);
    if (!op) {
        cb(ctx, &nomem, NULL);
        return;
    }
    op->roles = roles;
    snprintf(op->file, sizeof op->file, "%s", file_id);
    rooms_look_up(r, op->room, NULL, read_room_cb, op);
}

/* A removal the plugin has not answered yet; listed in r->forgets so
 * that the ones still unanswered when the plugin is unloaded (whose
 * answers never come) are freed with the rooms. */
struct files_forget {
    struct files_forget *prev, *next;
    struct rooms *r;
    char what[16];
    char key[USER_NAME_MAX + 1];
};

static void forget_free(struct files_forget *f)
{
    if (f->prev)
        f->prev->next = f->next;
    else
        f->r->forgets = f->next;
    if (f->next)
        f->next->prev = f->prev;
    free(f);
}

static void forgotten_cb(void *ctx, chatd_status st, uint64_t removed)
{
    struct files_forget *f = ctx;
    if (st != CHATD_OK)
        log_warn("files of %s %s not removed: %s", f->what, f->key, chatd_strerror(st));
    else if (removed)
        log_info("%llu files of %s %s removed", (unsigned long long)removed, f->what, f->key);
    forget_free(f);
}

static void forget(struct rooms *r, const char *what, const char *key,
                   void (*op)(struct plugin *, const char *, chatd_files_done_cb, void *))
{
    if (!r->files || !key)
        return;
    struct files_forget *f = calloc(1, sizeof *f);
    if (!f) {
        log_warn("files of %s %s not removed: out of memory", what, key);
        return;
    }
    f->r = r;
    snprintf(f->what, sizeof f->what, "%s", what);
    snprintf(f->key, sizeof f->key, "%s", key);
    f->next = r->forgets;
    if (r->forgets)
        r->forgets->prev = f;
    r->forgets = f;
    op(r->files, f->key, forgotten_cb, f);
}

void files_forget_room(struct rooms *r, const char *room_id)
{
    forget(r, "room", room_id, files_port_remove_room);
}

void files_forget_owner(struct rooms *r, const char *user)
{
    forget(r, "user", user, files_port_remove_owner);
}

void files_forget_drop(struct rooms *r)
{
    size_t n = 0;
    for (; r->forgets; n++)
        forget_free(r->forgets);
    if (n)
        log_info("%zu removals of files not answered before shutdown", n);
}
