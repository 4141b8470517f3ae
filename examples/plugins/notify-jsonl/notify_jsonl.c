/* notify-jsonl: appends every notification to a file, one JSON object per
 * line. The smallest useful notify plugin, and the one docs/plugin-guide.md
 * walks through.
 *
 *   [notify.file]
 *   plugin = /path/to/notify_jsonl.so
 *   path   = /var/log/chatd/notifications.jsonl
 *
 * It writes with stdio from the core thread: fine for a local file and a
 * demo; a plugin that talks to a network service must not block (see the
 * guide). */
#include <chatd/plugin.h>
#include <stdio.h>
#include <stdlib.h>

struct jsonl {
    FILE *out;
};

static chatd_status jsonl_init(const struct chatd_host *h, void **state)
{
    const char *path = h->config_get(h, "path"); /* reading a key marks it known */
    if (!path || !*path) {
        h->config_error(h, "path", "required: the file to append notifications to");
        return CHATD_ERR_INVALID;
    }
    struct jsonl *j = calloc(1, sizeof *j);
    if (!j)
        return CHATD_ERR_NOMEM;
    if (!(j->out = fopen(path, "a"))) {
        h->config_error(h, "path", "cannot open '%s' for appending", path);
        free(j);
        return CHATD_ERR_INVALID;
    }
    /* Line-buffered: each notification reaches the file whole and at once. */
    setvbuf(j->out, NULL, _IOLBF, 0);
    *state = j;
    return CHATD_OK;
}

static void jsonl_fini(void *state)
{
    struct jsonl *j = state;
    fclose(j->out);
    free(j);
}

/* n and everything it points to are borrowed for this call only. */
static void jsonl_notify(void *state, const struct chatd_notification *n)
{
    struct jsonl *j = state;
    fprintf(j->out, "%.*s\n", (int)n->json_len, n->json);
}

static const struct chatd_notify_ops jsonl_ops = {
    .size = sizeof jsonl_ops,
    .notify = jsonl_notify,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_NOTIFY, .name = "jsonl", .version = "1.0",
                    .description = "appends notifications to a file as JSON lines",
                    .init = jsonl_init, .fini = jsonl_fini, .ops.notify = &jsonl_ops)
