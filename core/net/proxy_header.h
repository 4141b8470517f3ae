/* The PROXY protocol header (versions 1 and 2) a load balancer writes at
 * the start of a TCP connection to name the client it accepted: parsed
 * from the first bytes of a raw STOMP connection that comes from a trusted
 * proxy ([server] proxy_protocol). Pure: no sockets, no allocation. */
#ifndef CHATD_NET_PROXY_HEADER_H
#define CHATD_NET_PROXY_HEADER_H

#include <stdbool.h>
#include <stddef.h>

/* The longest header accepted: version 2's 16 bytes and a length of up to
 * this much more (addresses and TLVs; real proxies send a few hundred). */
#define PROXY_HEADER_MAX (16 + 4096)

enum proxy_result {
    PROXY_MORE, /* the bytes so far are the start of a header: read more */
    PROXY_DONE, /* a whole header: out is filled */
    PROXY_BAD,  /* not a header, or a malformed one: *why says what */
};

struct proxy_header {
    size_t len;     /* the header's bytes; what follows is the client's */
    bool local;     /* the proxy speaks for itself (v2 LOCAL, v1 UNKNOWN,
                     * a family without an address): keep the peer's */
    char addr[48];  /* the client's address, numeric (when !local) */
};

/* Parse the first n bytes of a connection. */
enum proxy_result proxy_header_parse(const unsigned char *buf, size_t n, struct proxy_header *out,
                                     const char **why);

#endif
