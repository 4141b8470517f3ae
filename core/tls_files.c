#include "tls_files.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

/* The library's reason for the last failure, without its error codes. */
static const char *ssl_reason(void)
{
    unsigned long e = ERR_peek_last_error();
    const char *r = e ? ERR_reason_error_string(e) : NULL;
    ERR_clear_error();
    return r ? r : "not understood";
}

static int readable(const char *path, const char *what, char *why, size_t whylen)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(why, whylen, "cannot read %s '%s': %s", what, path, strerror(errno));
        return -1;
    }
    fclose(f);
    return 0;
}

/* An encrypted key is refused, never asked for on a terminal. */
static int no_password(char *buf, int size, int rwflag, void *arg)
{
    (void)buf;
    (void)size;
    (void)rwflag;
    (void)arg;
    return 0;
}

int tls_files_check(const char *cert, const char *key, const char *ca, const char *ciphers, const char **bad_key,
                    char *why, size_t whylen)
{
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    int rc = -1;
    if (!ctx) {
        *bad_key = "tls_cert";
        snprintf(why, whylen, "TLS is not available: %s", ssl_reason());
        return -1;
    }
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    *bad_key = "tls_cert";
    if (readable(cert, "the certificate file", why, whylen) < 0)
        goto out;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(why, whylen, "'%s' holds no PEM certificate the server can use: %s", cert, ssl_reason());
        goto out;
    }
    *bad_key = "tls_key";
    if (readable(key, "the key file", why, whylen) < 0)
        goto out;
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(why, whylen, "the key in '%s' does not belong to the certificate in '%s'", key, cert);
            goto out;
        }
        snprintf(why, whylen, "'%s' holds no PEM private key the server can use (or it is encrypted): %s", key,
                 ssl_reason());
        goto out;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(why, whylen, "the key in '%s' does not belong to the certificate in '%s'", key, cert);
        goto out;
    }
    if (ca) {
        *bad_key = "tls_ca";
        if (readable(ca, "the CA file", why, whylen) < 0)
            goto out;
        if (SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
            snprintf(why, whylen, "'%s' holds no PEM CA certificate: %s", ca, ssl_reason());
            goto out;
        }
    }
    *bad_key = "tls_ciphers";
    if (SSL_CTX_set_cipher_list(ctx, ciphers) != 1) {
        snprintf(why, whylen, "no cipher of '%s' is known: %s", ciphers, ssl_reason());
        goto out;
    }
    rc = 0;
out:
    SSL_CTX_free(ctx);
    return rc;
}
