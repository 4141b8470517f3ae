/* The PROXY protocol header, versions 1 (a text line) and 2 (binary). */
#include "net/proxy_header.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const unsigned char v2_sig[12] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
static const char v1_sig[] = "PROXY ";
#define V1_MAX 107 /* the longest line version 1 allows, CRLF included */

static enum proxy_result bad(const char **why, const char *what)
{
    if (why)
        *why = what;
    return PROXY_BAD;
}

static bool prefix_of(const unsigned char *buf, size_t n, const void *sig, size_t sig_len)
{
    return memcmp(buf, sig, n < sig_len ? n : sig_len) == 0;
}

static enum proxy_result parse_v2(const unsigned char *buf, size_t n, struct proxy_header *out, const char **why)
{
    if (n < 16)
        return PROXY_MORE;
    unsigned version = buf[12] >> 4, command = buf[12] & 0x0F;
    unsigned family = buf[13] >> 4;
    size_t len = (size_t)buf[14] << 8 | buf[15];
    if (version != 2)
        return bad(why, "PROXY protocol version 2 header of another version");
    if (command > 1)
        return bad(why, "PROXY protocol version 2 header with an unknown command");
    if (16 + len > PROXY_HEADER_MAX)
        return bad(why, "PROXY protocol header too long");
    if (n < 16 + len)
        return PROXY_MORE;
    out->len = 16 + len;
    out->local = true;
    out->addr[0] = '\0';
    if (command == 0) /* LOCAL: the proxy's own connection, a health check */
        return PROXY_DONE;
    const unsigned char *a = buf + 16;
    if (family == 1) {
        if (len < 12)
            return bad(why, "PROXY protocol version 2 header too short for its IPv4 addresses");
        inet_ntop(AF_INET, a, out->addr, sizeof out->addr);
        out->local = false;
    } else if (family == 2) {
        if (len < 36)
            return bad(why, "PROXY protocol version 2 header too short for its IPv6 addresses");
        inet_ntop(AF_INET6, a, out->addr, sizeof out->addr);
        out->local = false;
    } else if (family > 3) {
        return bad(why, "PROXY protocol version 2 header with an unknown address family");
    }
    /* UNSPEC and UNIX name no address the limits could count: the peer's */
    return PROXY_DONE;
}

/* "PROXY TCP4 src dst sport dport\r\n", "PROXY TCP6 ...", "PROXY UNKNOWN ...\r\n" */
static enum proxy_result parse_v1(const unsigned char *buf, size_t n, struct proxy_header *out, const char **why)
{
    const unsigned char *crlf = NULL;
    for (size_t i = 0; i + 1 < n && i + 2 <= V1_MAX; i++)
        if (buf[i] == '\r' && buf[i + 1] == '\n') {
            crlf = buf + i;
            break;
        }
    if (!crlf) {
        for (size_t i = 0; i < n && i < V1_MAX; i++)
            if (buf[i] == '\n' || buf[i] == '\0')
                return bad(why, "PROXY protocol version 1 line not ended by CRLF");
        return n >= V1_MAX ? bad(why, "PROXY protocol version 1 line too long") : PROXY_MORE;
    }
    char line[V1_MAX + 1];
    size_t ll = (size_t)(crlf - buf);
    if (memchr(buf, '\0', ll) || memchr(buf, '\n', ll))
        return bad(why, "PROXY protocol version 1 line not ended by CRLF");
    memcpy(line, buf, ll);
    line[ll] = '\0';
    out->len = ll + 2;
    out->local = true;
    out->addr[0] = '\0';
    const char *p = line + sizeof v1_sig - 1;
    if (strncmp(p, "UNKNOWN", 7) == 0 && (p[7] == '\0' || p[7] == ' '))
        return PROXY_DONE;
    int family;
    if (strncmp(p, "TCP4 ", 5) == 0)
        family = AF_INET;
    else if (strncmp(p, "TCP6 ", 5) == 0)
        family = AF_INET6;
    else
        return bad(why, "PROXY protocol version 1 line with an unknown protocol");
    p += 5;
    /* four fields, single spaces between, nothing else */
    char field[4][48];
    for (int f = 0; f < 4; f++) {
        size_t k = 0;
        while (*p && *p != ' ') {
            if (k + 1 >= sizeof field[f])
                return bad(why, "PROXY protocol version 1 line with a field too long");
            field[f][k++] = *p++;
        }
        field[f][k] = '\0';
        if (!k || (f < 3 && *p != ' ') || (f == 3 && *p))
            return bad(why, "PROXY protocol version 1 line without its four fields");
        if (*p)
            p++;
    }
    unsigned char bin[16];
    if (inet_pton(family, field[0], bin) != 1 || inet_pton(family, field[1], bin) != 1)
        return bad(why, "PROXY protocol version 1 line with a malformed address");
    for (int f = 2; f < 4; f++) {
        unsigned long port = 0;
        for (const char *d = field[f]; *d; d++) {
            if (*d < '0' || *d > '9' || (d == field[f] && *d == '0' && d[1]))
                return bad(why, "PROXY protocol version 1 line with a malformed port");
            port = port * 10 + (unsigned long)(*d - '0');
            if (port > 65535)
                return bad(why, "PROXY protocol version 1 line with a malformed port");
        }
    }
    snprintf(out->addr, sizeof out->addr, "%s", field[0]);
    out->local = false;
    return PROXY_DONE;
}

enum proxy_result proxy_header_parse(const unsigned char *buf, size_t n, struct proxy_header *out,
                                     const char **why)
{
    if (n == 0)
        return PROXY_MORE;
    if (prefix_of(buf, n, v2_sig, sizeof v2_sig))
        return n < sizeof v2_sig ? PROXY_MORE : parse_v2(buf, n, out, why);
    if (prefix_of(buf, n, v1_sig, sizeof v1_sig - 1))
        return n < sizeof v1_sig - 1 ? PROXY_MORE : parse_v1(buf, n, out, why);
    return bad(why, "no PROXY protocol header");
}
