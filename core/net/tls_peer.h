/* Who a TLS client's verified certificate says it is: the field [server]
 * tls_client_user names, read once the handshake is over (gateway thread).
 * The core hears it in an XM_TLS_PEER message before the client's first
 * frame and hands it to authentication (docs/configuration.md, "Client
 * certificates as users"). */
#ifndef CHATD_TLS_PEER_H
#define CHATD_TLS_PEER_H

#include <stddef.h>

#include "settings.h"

/* Longest identity taken, in bytes: a certificate naming a longer one
 * names no user. */
#define TLS_PEER_IDENTITY_MAX 256

/* ssl is an OpenSSL SSL * (void here so that callers need no OpenSSL
 * header); NULL for a connection without TLS. 1 with *identity (the
 * caller frees) when the connection has a verified client certificate
 * whose field `rule` names a user; 0 when there is nothing to say (no TLS,
 * no certificate, rule off); -1 with *problem (a static text fit for a
 * client) when it has a verified certificate that names no user: the
 * field is absent, repeated (commonName), empty, longer than
 * TLS_PEER_IDENTITY_MAX, not UTF-8, or holds a control character. */
int tls_peer_identity(void *ssl, enum tls_client_user rule, char **identity, const char **problem);

/* The same for a certificate (an OpenSSL X509 *) taken as verified: 1
 * with *identity, -1 with *problem, 0 only with rule off. */
int tls_cert_identity(void *x509, enum tls_client_user rule, char **identity, const char **problem);

#endif
