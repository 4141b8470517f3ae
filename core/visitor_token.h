/* Visitor tokens: the identities chatd issues itself to anonymous website
 * visitors (POST /api/visitors, [visitors] in chat.ini), independent of the
 * auth plugin. A token is
 *
 *     cv1.<id>.<expiry>.<mac>
 *
 * <id> is 22 base64url characters of the kernel's randomness (the visitor
 * is the user "visitor:<id>"), <expiry> the Unix time in seconds after
 * which the token is refused, <mac> the base64url HMAC-SHA256, keyed with
 * [visitors] secret, of everything before its dot. The host checks a token
 * that starts "cv1." itself, before and instead of the auth plugin
 * (docs/visitors.md). No I/O, no state: the REST call and the STOMP
 * session share it, and its unit test runs without sockets. */
#ifndef CHATD_VISITOR_TOKEN_H
#define CHATD_VISITOR_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Every visitor's user name starts with this; no auth plugin's may. */
#define VISITOR_USER_PREFIX "visitor:"
#define VISITOR_TOKEN_PREFIX "cv1."
/* The core's own role bit, beside the SDK's CHATD_ROLE_*: the caller is a
 * visitor chatd issued. Set by the host alone; cleared from whatever an
 * auth plugin answers. */
#define ROLE_VISITOR 0x80000000u

/* Room for a visitor's user name and for a token, with their NULs. */
#define VISITOR_USER_MAX 40
#define VISITOR_TOKEN_MAX 128

/* [visitors] of chat.ini (docs/configuration.md). */
struct visitor_settings {
    bool enabled;
    char *secret;          /* the HMAC key; set whenever enabled */
    long long ttl_ms;      /* a token's life from its issue */
    size_t per_ip_per_hour; /* tokens one client address may be issued; 0 = unlimited */
};

/* Whether token is meant to be a visitor token (starts "cv1."): such a
 * token is the host's to judge, never the auth plugin's. */
bool visitor_token_like(const char *token);
/* Whether user is a visitor's name (starts "visitor:"). */
bool user_is_visitor(const char *user);

/* A token for the visitor `user` (a name made by an earlier call), or for
 * a new visitor when user is NULL, valid until now_ms + ttl_ms (rounded
 * down to the second). user_out gets the visitor's name, token_out the
 * token, *expires_ms the expiry. 0, or -1 when the kernel gave no
 * randomness or user is not a visitor's name. */
int visitor_token_mint(const char *secret, const char *user, int64_t now_ms, long long ttl_ms,
                       char user_out[VISITOR_USER_MAX], char token_out[VISITOR_TOKEN_MAX], int64_t *expires_ms);

enum visitor_verdict {
    VISITOR_VALID = 0,
    VISITOR_MALFORMED, /* not of the shape above */
    VISITOR_FORGED,    /* the MAC does not match: another key, or altered */
    VISITOR_EXPIRED,
};
/* Judge token at now_ms; on VISITOR_VALID user_out and *expires_ms are
 * set. The MAC is compared in constant time. */
enum visitor_verdict visitor_token_verify(const char *secret, const char *token, int64_t now_ms,
                                          char user_out[VISITOR_USER_MAX], int64_t *expires_ms);
/* A short sentence a client may be shown for a verdict other than VALID. */
const char *visitor_verdict_text(enum visitor_verdict v);

#endif
