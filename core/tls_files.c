#include "tls_files.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
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

/* The certificate chain and key into ctx, checked against each other. */
static int load_cert_key(SSL_CTX *ctx, const char *cert, const char *key, const char **bad_key, char *why,
                         size_t whylen)
{
    SSL_CTX_set_default_passwd_cb(ctx, no_password);
    *bad_key = "tls_cert";
    if (readable(cert, "the certificate file", why, whylen) < 0)
        return -1;
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        snprintf(why, whylen, "'%s' holds no PEM certificate the server can use: %s", cert, ssl_reason());
        return -1;
    }
    *bad_key = "tls_key";
    if (readable(key, "the key file", why, whylen) < 0)
        return -1;
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1) {
        if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
            ERR_clear_error();
            snprintf(why, whylen, "the key in '%s' does not belong to the certificate in '%s'", key, cert);
            return -1;
        }
        snprintf(why, whylen, "'%s' holds no PEM private key the server can use (or it is encrypted): %s", key,
                 ssl_reason());
        return -1;
    }
    if (SSL_CTX_check_private_key(ctx) != 1) {
        ERR_clear_error();
        snprintf(why, whylen, "the key in '%s' does not belong to the certificate in '%s'", key, cert);
        return -1;
    }
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
    if (load_cert_key(ctx, cert, key, bad_key, why, whylen) < 0)
        goto out;
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

struct tls_cert_bundle {
    X509 *cert;
    STACK_OF(X509) *chain; /* the intermediates after it; may be NULL */
    EVP_PKEY *key;
};

void tls_cert_bundle_free(struct tls_cert_bundle *b)
{
    if (!b)
        return;
    X509_free(b->cert);
    sk_X509_pop_free(b->chain, X509_free);
    EVP_PKEY_free(b->key);
    free(b);
}

int tls_files_load(const char *cert, const char *key, struct tls_cert_bundle **out, const char **bad_key, char *why,
                   size_t whylen)
{
    *out = NULL;
    *bad_key = "tls_cert";
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    struct tls_cert_bundle *b = calloc(1, sizeof *b);
    if (!ctx || !b) {
        snprintf(why, whylen, "TLS is not available: %s", ctx ? "out of memory" : ssl_reason());
        SSL_CTX_free(ctx);
        free(b);
        return -1;
    }
    int rc = -1;
    if (load_cert_key(ctx, cert, key, bad_key, why, whylen) < 0)
        goto out;
    STACK_OF(X509) *chain = NULL;
    X509 *x = SSL_CTX_get0_certificate(ctx);
    EVP_PKEY *k = SSL_CTX_get0_privatekey(ctx);
    if (!x || !k || SSL_CTX_get0_chain_certs(ctx, &chain) != 1 || X509_up_ref(x) != 1) {
        snprintf(why, whylen, "'%s' could not be loaded: %s", cert, ssl_reason());
        goto out;
    }
    b->cert = x;
    if (EVP_PKEY_up_ref(k) != 1 || (chain && !(b->chain = X509_chain_up_ref(chain)))) {
        snprintf(why, whylen, "'%s' could not be loaded: %s", cert, ssl_reason());
        goto out;
    }
    b->key = k;
    *out = b;
    b = NULL;
    rc = 0;
out:
    tls_cert_bundle_free(b);
    SSL_CTX_free(ctx);
    return rc;
}

int tls_cert_bundle_apply(const struct tls_cert_bundle *b, void *ssl_ctx, char *why, size_t whylen)
{
    /* override: the certificate, key and chain of the key's type are
     * replaced as one. */
    if (SSL_CTX_use_cert_and_key(ssl_ctx, b->cert, b->key, b->chain, 1) != 1) {
        snprintf(why, whylen, "the listener refused the new certificate: %s", ssl_reason());
        return -1;
    }
    return 0;
}

void tls_cert_bundle_describe(const struct tls_cert_bundle *b, char *out, size_t len)
{
    char subject[256] = "?", serial[80] = "?", until[64] = "?";
    X509_NAME_oneline(X509_get_subject_name(b->cert), subject, sizeof subject);
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(b->cert), NULL);
    char *hex = bn ? BN_bn2hex(bn) : NULL;
    if (hex)
        snprintf(serial, sizeof serial, "%s", hex);
    OPENSSL_free(hex);
    BN_free(bn);
    BIO *bio = BIO_new(BIO_s_mem());
    if (bio && ASN1_TIME_print(bio, X509_get0_notAfter(b->cert)) == 1) {
        int n = BIO_read(bio, until, (int)sizeof until - 1);
        until[n > 0 ? n : 0] = '\0';
    }
    BIO_free(bio);
    ERR_clear_error();
    snprintf(out, len, "subject %s, serial %s, valid until %s", subject, serial, until);
}
