#include "http/api_docs.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "http/rest_call.h"

/* docs/openapi.yaml, generated into the build tree (api_docs_openapi.c). */
extern const unsigned char chatd_openapi_yaml[];
extern const size_t chatd_openapi_yaml_len;

void api_docs_rest(struct rest_call *c)
{
    char *body = malloc(chatd_openapi_yaml_len ? chatd_openapi_yaml_len : 1);
    if (body)
        memcpy(body, chatd_openapi_yaml, chatd_openapi_yaml_len);
    rest_respond_typed(c, 200, "application/yaml", NULL, body, chatd_openapi_yaml_len);
}
