#include "plugins/auth_port.h"

#include "plugins/loader.h"

void auth_authenticate(const struct plugin *auth, const struct chatd_credentials *cred, chatd_auth_cb cb,
                       void *ctx)
{
    auth->desc->ops.auth->authenticate(auth->state, cred, cb, ctx);
}
