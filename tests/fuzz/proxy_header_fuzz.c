/* Fuzz the PROXY protocol header parser: whatever the bytes, it answers
 * MORE, BAD with a reason, or DONE with a length within the input and, for
 * a client address, one that parses; and a prefix of a whole header is
 * never BAD. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/proxy_header.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct proxy_header h;
    const char *why = NULL;
    enum proxy_result r = proxy_header_parse(data, size, &h, &why);
    if (r == PROXY_BAD && !why)
        abort();
    if (r != PROXY_DONE)
        return 0;
    if (h.len == 0 || h.len > size || h.len > PROXY_HEADER_MAX)
        abort();
    if (!h.local) {
        unsigned char a[16];
        if (inet_pton(strchr(h.addr, ':') ? AF_INET6 : AF_INET, h.addr, a) != 1)
            abort();
    }
    for (size_t k = 0; k < h.len; k++) {
        struct proxy_header p;
        const char *w = NULL;
        if (proxy_header_parse(data, k, &p, &w) != PROXY_MORE)
            abort();
    }
    return 0;
}
