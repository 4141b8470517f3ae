/* URL query strings ("a=1&b=x%20y"): the REST API's one hand-written
 * parser, kept pure so it can be fuzzed. */
#ifndef CHATD_QUERY_H
#define CHATD_QUERY_H

#include <stddef.h>

/* The percent-decoded value of `name` in `query` into buf (always
 * terminated, truncated to len - 1), or NULL when absent. */
const char *query_param(const char *query, const char *name, char *buf, size_t len);

#endif
