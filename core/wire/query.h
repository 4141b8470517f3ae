/* URL query strings ("a=1&b=x%20y"): the REST API's one hand-written
 * parser, kept pure so it can be fuzzed. */
#ifndef CHATD_QUERY_H
#define CHATD_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The percent-decoded value of `name` in `query` into buf (always
 * terminated, truncated to len - 1), or NULL when absent. */
const char *query_param(const char *query, const char *name, char *buf, size_t len);

/* A whole decimal number (a query parameter, a header such as since-seq)
 * into *out; false for anything else, or a negative one. */
bool query_u64(const char *s, uint64_t *out);

#endif
