/* The TLS listeners' PEM files, checked the way the listeners will load
 * them, so that a configuration check (and start-up) names the key at
 * fault instead of a TLS library's message at the first handshake. */
#ifndef CHATD_TLS_FILES_H
#define CHATD_TLS_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* cert: the certificate (and its chain) in PEM; key: its private key;
 * ca: NULL, or the CAs that client certificates must chain to; crl: NULL,
 * or the revocation lists of those CAs (PEM, each signed by a CA of ca);
 * ciphers: an OpenSSL cipher list for TLS 1.2. 0, or -1 with the [server]
 * key at fault in *key ("tls_cert", "tls_key", "tls_ca", "tls_crl",
 * "tls_ciphers") and the reason in why. */
int tls_files_check(const char *cert, const char *key, const char *ca, const char *crl, const char *ciphers,
                    const char **bad_key, char *why, size_t whylen);

/* The store client certificates are verified against with revocation
 * lists ([server] tls_crl): the CAs of ca and the CRLs of crl, checked as
 * tls_files_check does, with the leaf certificate's CRL required. 0 with
 * *store (an OpenSSL X509_STORE *, the caller's reference), or -1 with
 * why. Reads files: not on the gateway's loop once it serves. */
int tls_crl_store(const char *ca, const char *crl, void **store, char *why, size_t whylen);
/* Make store (tls_crl_store) the one ssl_ctx verifies client certificates
 * against, for the handshakes that begin from now on. 0, or -1 with why.
 * The thread that owns ssl_ctx. */
int tls_crl_store_apply(void *store, void *ssl_ctx, char *why, size_t whylen);
void tls_crl_store_free(void *store);

/* The certificate (with its chain) and private key of the TLS listeners as
 * loaded objects: read and checked on one thread (the core's, at a
 * reload), put into the listeners' contexts on another (the gateway's).
 * Immutable once made, and freed by whoever holds it last. */
struct tls_cert_bundle;

/* Read cert and key as tls_files_check does and keep what they hold; with
 * crl (not NULL), also ca and crl as tls_crl_store does. 0 with *out, or
 * -1 with the [server] key at fault in *bad_key and why. */
int tls_files_load(const char *cert, const char *key, const char *ca, const char *crl, struct tls_cert_bundle **out,
                   const char **bad_key, char *why, size_t whylen);
/* Make b the certificate, chain and key that `ssl_ctx` (an OpenSSL SSL_CTX
 * of a listener, void here to keep OpenSSL out of this header) hands to
 * the handshakes that begin from now on, and its revocation lists the ones
 * they check; connections already established keep theirs. 0, or -1 with
 * why (ssl_ctx then unchanged). The thread that owns ssl_ctx. */
int tls_cert_bundle_apply(const struct tls_cert_bundle *b, void *ssl_ctx, char *why, size_t whylen);
/* Whether b's revocation lists ([server] tls_crl) list x509 (an OpenSSL
 * X509 *, a client's certificate). false without lists. Any thread. */
bool tls_cert_bundle_revokes(const struct tls_cert_bundle *b, void *x509);
/* For the log: "subject CN=..., serial 0A1B..., valid until 2027-01-01". */
void tls_cert_bundle_describe(const struct tls_cert_bundle *b, char *out, size_t len);
/* NULL ok. */
void tls_cert_bundle_free(struct tls_cert_bundle *b);

#endif
