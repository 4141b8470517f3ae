#include "visitor_token.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#define ID_BYTES 16
#define ID_CHARS 22  /* base64url of 16 bytes, unpadded */
#define MAC_CHARS 43 /* base64url of 32 bytes, unpadded */

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* Unpadded base64url of n bytes into out (room for 4n/3 + 2). */
static void b64url_encode(const unsigned char *in, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        out[o++] = b64url[(v >> 18) & 63];
        out[o++] = b64url[(v >> 12) & 63];
        if (i + 1 < n)
            out[o++] = b64url[(v >> 6) & 63];
        if (i + 2 < n)
            out[o++] = b64url[v & 63];
    }
    out[o] = '\0';
}

static bool is_b64url(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!s[i] || !strchr(b64url, s[i]))
            return false;
    return true;
}

bool visitor_token_like(const char *token)
{
    return token && strncmp(token, VISITOR_TOKEN_PREFIX, strlen(VISITOR_TOKEN_PREFIX)) == 0;
}

bool user_is_visitor(const char *user)
{
    return user && strncmp(user, VISITOR_USER_PREFIX, strlen(VISITOR_USER_PREFIX)) == 0;
}

/* The MAC of the signed part, base64url, into out (MAC_CHARS + 1). */
static int mac_of(const char *secret, const char *signed_part, size_t len, char *out)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signed_part, len, mac, &maclen) ||
        maclen != 32)
        return -1;
    b64url_encode(mac, maclen, out);
    return 0;
}

int visitor_token_mint(const char *secret, const char *user, int64_t now_ms, long long ttl_ms,
                       char user_out[VISITOR_USER_MAX], char token_out[VISITOR_TOKEN_MAX], int64_t *expires_ms)
{
    char id[ID_CHARS + 1];
    if (user) {
        const char *rest = user + strlen(VISITOR_USER_PREFIX);
        if (!user_is_visitor(user) || strlen(rest) != ID_CHARS || !is_b64url(rest, ID_CHARS))
            return -1;
        memcpy(id, rest, sizeof id);
    } else {
        unsigned char raw[ID_BYTES];
        if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw)
            return -1;
        b64url_encode(raw, sizeof raw, id);
    }
    int64_t exp_s = (now_ms + ttl_ms) / 1000;
    int n = snprintf(token_out, VISITOR_TOKEN_MAX, VISITOR_TOKEN_PREFIX "%s.%" PRId64 ".", id, exp_s);
    if (n < 0 || n + MAC_CHARS + 1 > VISITOR_TOKEN_MAX || mac_of(secret, token_out, (size_t)n - 1, token_out + n) < 0)
        return -1;
    snprintf(user_out, VISITOR_USER_MAX, VISITOR_USER_PREFIX "%s", id);
    *expires_ms = exp_s * 1000;
    return 0;
}

enum visitor_verdict visitor_token_verify(const char *secret, const char *token, int64_t now_ms,
                                          char user_out[VISITOR_USER_MAX], int64_t *expires_ms)
{
    size_t plen = strlen(VISITOR_TOKEN_PREFIX);
    if (!visitor_token_like(token))
        return VISITOR_MALFORMED;
    const char *id = token + plen;
    if (!is_b64url(id, ID_CHARS) || id[ID_CHARS] != '.')
        return VISITOR_MALFORMED;
    const char *exp = id + ID_CHARS + 1;
    size_t digits = 0;
    while (exp[digits] >= '0' && exp[digits] <= '9')
        digits++;
    if (digits == 0 || digits > 12 || exp[digits] != '.')
        return VISITOR_MALFORMED;
    const char *mac = exp + digits + 1;
    if (strlen(mac) != MAC_CHARS || !is_b64url(mac, MAC_CHARS))
        return VISITOR_MALFORMED;
    char want[MAC_CHARS + 1];
    if (mac_of(secret, token, (size_t)(mac - 1 - token), want) < 0 || CRYPTO_memcmp(want, mac, MAC_CHARS) != 0)
        return VISITOR_FORGED;
    int64_t exp_s = strtoll(exp, NULL, 10);
    if (exp_s * 1000 <= now_ms)
        return VISITOR_EXPIRED;
    snprintf(user_out, VISITOR_USER_MAX, VISITOR_USER_PREFIX "%.*s", ID_CHARS, id);
    *expires_ms = exp_s * 1000;
    return VISITOR_VALID;
}

const char *visitor_verdict_text(enum visitor_verdict v)
{
    switch (v) {
    case VISITOR_VALID: return "valid";
    case VISITOR_MALFORMED: return "malformed visitor token";
    case VISITOR_FORGED: return "visitor token not issued by this server";
    case VISITOR_EXPIRED: return "visitor token expired";
    }
    return "bad visitor token";
}
