/* Fuzz the trusted-proxy parsers: a CIDR list, and Forwarded /
 * X-Forwarded-For read against it. The input is split at its first two NUL
 * bytes into the list, the Forwarded and the X-Forwarded-For header; what
 * comes out is always an address that parses (or the peer's). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cidr.h"
#include "net/client_addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size + 3);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = buf[size + 2] = '\0';
    const char *list = buf;
    const char *fwd = list + strlen(list) + 1;
    const char *xff = fwd <= buf + size ? fwd + strlen(fwd) + 1 : buf + size + 2;
    if (xff > buf + size + 2)
        xff = buf + size + 2;
    struct cidr_list l;
    char why[160];
    if (cidr_list_parse(list, &l, why, sizeof why) < 0)
        cidr_list_parse("127.0.0.1 10.0.0.0/8 ::1", &l, why, sizeof why);
    char out[64];
    client_addr_resolve(&l, "127.0.0.1", fwd, xff, out, sizeof out);
    unsigned char a[16];
    int family;
    if (!cidr_addr_parse(out, a, &family))
        abort();
    cidr_list_free(&l);
    free(buf);
    return 0;
}
