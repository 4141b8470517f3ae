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

#endif
