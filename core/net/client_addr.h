/* The client's address behind trusted proxies ([server] trusted_proxies):
 * a connection from a trusted proxy is taken to be from the address the
 * proxy says it forwarded (the Forwarded header's `for=`, RFC 7239, or else
 * X-Forwarded-For), read from the right: each hop a trusted proxy added is
 * believed, the first address that is not a trusted proxy is the client.
 * Anything else (no list, a peer that is not trusted, no header) keeps the
 * peer's own address. */
#ifndef CHATD_CLIENT_ADDR_H
#define CHATD_CLIENT_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "cidr.h"

/* At most this many hops are read from the right of a header. */
#define CLIENT_ADDR_MAX_HOPS 32

/* out (at least 46 bytes) gets the client's address in its canonical text
 * form; forwarded and xff may be NULL or "" when absent. A hop that is not
 * an address (`unknown`, an obfuscated name) ends the walk at the proxy
 * that added it. */
void client_addr_resolve(const struct cidr_list *trusted, const char *peer, const char *forwarded, const char *xff,
                         char *out, size_t outlen);

/* Whether peer (an address in text form) is one of the trusted proxies. */
bool client_addr_trusted(const struct cidr_list *trusted, const char *peer);

#endif
