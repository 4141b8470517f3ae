/* The client's address behind trusted proxies: Forwarded and
 * X-Forwarded-For read from the right. */
#include "net/client_addr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

/* One hop as a proxy writes it: an address, possibly with a port
 * ("192.0.2.1:4711", "[2001:db8::1]:4711"), in quotes for Forwarded. */
static bool hop_addr(const char *s, size_t n, unsigned char a[16], int *family)
{
    while (n && isspace((unsigned char)*s)) {
        s++;
        n--;
    }
    while (n && isspace((unsigned char)s[n - 1]))
        n--;
    if (n >= 2 && s[0] == '"' && s[n - 1] == '"') {
        s++;
        n -= 2;
    }
    char text[64];
    if (!n || n >= sizeof text)
        return false;
    if (s[0] == '[') {
        const char *close = memchr(s, ']', n);
        if (!close)
            return false;
        size_t rest = n - (size_t)(close - s) - 1;
        if (rest && close[1] != ':')
            return false;
        n = (size_t)(close - s) - 1;
        s++;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon && !memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
            n = (size_t)(colon - s); /* IPv4 with a port; two colons or more: IPv6 */
    }
    memcpy(text, s, n);
    text[n] = '\0';
    return cidr_addr_parse(text, a, family);
}

/* The `for=` value of one Forwarded element ("for=1.2.3.4;proto=https"),
 * as start and length; false when it has none. */
static bool forwarded_for(const char *el, size_t n, const char **v, size_t *vn)
{
    const char *end = el + n;
    while (el < end) {
        const char *semi = memchr(el, ';', (size_t)(end - el));
        const char *pe = semi ? semi : end;
        while (el < pe && isspace((unsigned char)*el))
            el++;
        if (pe - el > 4 && strncasecmp(el, "for=", 4) == 0) {
            *v = el + 4;
            *vn = (size_t)(pe - el - 4);
            return true;
        }
        el = semi ? semi + 1 : end;
    }
    return false;
}

bool client_addr_trusted(const struct cidr_list *trusted, const char *peer)
{
    unsigned char a[16];
    int family;
    return trusted->n && cidr_addr_parse(peer, a, &family) && cidr_list_has(trusted, a, family);
}

void client_addr_resolve(const struct cidr_list *trusted, const char *peer, const char *forwarded, const char *xff,
                         char *out, size_t outlen)
{
    unsigned char a[16];
    int family;
    snprintf(out, outlen, "%s", peer);
    if (!trusted->n || !cidr_addr_parse(peer, a, &family) || !cidr_list_has(trusted, a, family))
        return;
    bool use_fwd = forwarded && *forwarded;
    const char *h = use_fwd ? forwarded : xff;
    if (!h || !*h)
        return;
    /* Walk the comma-separated hops from the right. Quoted commas do not
     * occur in addresses; a quoted Forwarded value with one is not an
     * address either way. */
    const char *end = h + strlen(h);
    for (int hops = 0; end > h && hops < CLIENT_ADDR_MAX_HOPS; hops++) {
        const char *start = end;
        while (start > h && start[-1] != ',')
            start--;
        const char *v = start;
        size_t vn = (size_t)(end - start);
        unsigned char hop[16];
        int hf;
        if ((use_fwd && !forwarded_for(start, vn, &v, &vn)) || !hop_addr(v, vn, hop, &hf))
            return; /* out holds the last trusted hop */
        char text[INET6_ADDRSTRLEN];
        if (!inet_ntop(hf, hop, text, sizeof text))
            return;
        snprintf(out, outlen, "%s", text);
        if (!cidr_list_has(trusted, hop, hf))
            return;
        end = start > h ? start - 1 : h;
    }
}
