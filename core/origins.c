#include "origins.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

static bool listed(char *const *list, const char *origin)
{
    for (size_t i = 0; list && list[i]; i++)
        if (strcmp(list[i], "*") == 0 || strcasecmp(list[i], origin) == 0)
            return true;
    return false;
}

bool origin_allowed(char *const *list, const char *origin)
{
    if (!origin || !*origin || !list || !list[0])
        return true;
    return listed(list, origin);
}

bool origin_cors_allowed(char *const *list, const char *origin)
{
    return origin && *origin && listed(list, origin);
}
