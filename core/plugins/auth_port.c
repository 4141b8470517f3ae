#include "plugins/auth_port.h"

#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "plugins/loader.h"
#include "plugins/sdk1.h"

_Static_assert(offsetof(struct chatd_credentials, login) == SDK1_SKIP, "1.x credentials body follows size");
_Static_assert(offsetof(struct chatd_identity, user) == SDK1_SKIP, "1.x identity body follows size");

/* SDK 2.0's identity: a 2.x plugin fills at least this much. */
#define IDENTITY_SIZE_2_0 (offsetof(struct chatd_identity, expires_ms) + sizeof(int64_t))

struct auth_call {
    const struct plugin *p;
    chatd_auth_cb cb;
    void *ctx;
};

static void on_auth(void *ctx, chatd_status st, const struct chatd_identity *who, const char *reason)
{
    struct auth_call *c = ctx;
    struct chatd_identity id;
    memset(&id, 0, sizeof id);
    if (who && plugin_sdk1(c->p)) {
        memcpy(SDK1_BODY(&id), who, SDK1_SIZE(chatd_identity));
    } else if (who && who->size < IDENTITY_SIZE_2_0) {
        log_msg(CHATD_LOG_ERROR, c->p->section, 0, "auth plugin %s answered an identity of %zu bytes, below SDK 2.0's %zu",
                c->p->desc->name, who->size, IDENTITY_SIZE_2_0);
        st = CHATD_ERR_INTERNAL;
        who = NULL;
    } else if (who) {
        memcpy(&id, who, who->size < sizeof id ? who->size : sizeof id);
    }
    id.size = sizeof id;
    chatd_auth_cb cb = c->cb;
    void *cb_ctx = c->ctx;
    free(c);
    cb(cb_ctx, st, who ? &id : NULL, reason);
}

void auth_authenticate(const struct plugin *auth, const struct chatd_credentials *cred, chatd_auth_cb cb,
                       void *ctx)
{
    struct auth_call *c = malloc(sizeof *c);
    if (!c) {
        cb(ctx, CHATD_ERR_NOMEM, NULL, NULL);
        return;
    }
    *c = (struct auth_call){auth, cb, ctx};
    struct chatd_credentials in = *cred, out;
    in.size = sizeof in;
    memset(&out, 0, sizeof out);
    if (plugin_sdk1(auth))
        memcpy(&out, SDK1_CBODY(&in), SDK1_SIZE(chatd_credentials));
    else
        out = in;
    auth->desc->ops.auth->authenticate(auth->state, &out, on_auth, c);
}
