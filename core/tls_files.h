/* The TLS listeners' PEM files, checked the way the listeners will load
 * them, so that a configuration check (and start-up) names the key at
 * fault instead of a TLS library's message at the first handshake. */
#ifndef CHATD_TLS_FILES_H
#define CHATD_TLS_FILES_H

#include <stddef.h>

/* cert: the certificate (and its chain) in PEM; key: its private key;
 * ca: NULL, or the CAs that client certificates must chain to; ciphers:
 * an OpenSSL cipher list for TLS 1.2. 0, or -1 with the [server] key at
 * fault in *key ("tls_cert", "tls_key", "tls_ca", "tls_ciphers") and the
 * reason in why. */
int tls_files_check(const char *cert, const char *key, const char *ca, const char *ciphers, const char **bad_key,
                    char *why, size_t whylen);

/* The certificate (with its chain) and private key of the TLS listeners as
 * loaded objects: read and checked on one thread (the core's, at a
 * reload), put into the listeners' contexts on another (the gateway's).
 * Immutable once made, and freed by whoever holds it last. */
struct tls_cert_bundle;

/* Read cert and key as tls_files_check does and keep what they hold. 0
 * with *out, or -1 with the [server] key at fault in *bad_key and why. */
int tls_files_load(const char *cert, const char *key, struct tls_cert_bundle **out, const char **bad_key, char *why,
                   size_t whylen);
/* Make b the certificate, chain and key that `ssl_ctx` (an OpenSSL SSL_CTX
 * of a listener, void here to keep OpenSSL out of this header) hands to
 * the handshakes that begin from now on; connections already established
 * keep theirs. 0, or -1 with why (ssl_ctx then unchanged). The thread that
 * owns ssl_ctx. */
int tls_cert_bundle_apply(const struct tls_cert_bundle *b, void *ssl_ctx, char *why, size_t whylen);
/* For the log: "subject CN=..., serial 0A1B..., valid until 2027-01-01". */
void tls_cert_bundle_describe(const struct tls_cert_bundle *b, char *out, size_t len);
/* NULL ok. */
void tls_cert_bundle_free(struct tls_cert_bundle *b);

#endif
