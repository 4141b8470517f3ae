#include "tls_files.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
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

/* The CRLs of the PEM file crl, each signed by a CA certificate of the
 * PEM file ca. NULL with why. */
static STACK_OF(X509_CRL) *read_crls(const char *ca, const char *crl, char *why, size_t whylen)
{
    if (readable(crl, "the CRL file", why, whylen) < 0)
        return NULL;
    STACK_OF(X509_CRL) *crls = sk_X509_CRL_new_null();
    STACK_OF(X509_INFO) *cas = NULL;
    BIO *bio = BIO_new_file(crl, "r");
    X509_CRL *one;
    while (crls && bio && (one = PEM_read_bio_X509_CRL(bio, NULL, NULL, NULL))) {
        if (!sk_X509_CRL_push(crls, one)) {
            X509_CRL_free(one);
            break;
        }
    }
    BIO_free(bio);
    ERR_clear_error();
    if (!crls || !sk_X509_CRL_num(crls)) {
        snprintf(why, whylen, "'%s' holds no PEM certificate revocation list (X509 CRL)", crl);
        goto fail;
    }
    if (!(bio = BIO_new_file(ca, "r")) || !(cas = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL))) {
        BIO_free(bio);
        snprintf(why, whylen, "'%s' could not be read for the CRLs' issuers: %s", ca, ssl_reason());
        goto fail;
    }
    BIO_free(bio);
    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        X509_CRL *c = sk_X509_CRL_value(crls, i);
        bool signed_by_ca = false;
        for (int k = 0; !signed_by_ca && k < sk_X509_INFO_num(cas); k++) {
            X509 *x = sk_X509_INFO_value(cas, k)->x509;
            signed_by_ca = x && X509_NAME_cmp(X509_get_subject_name(x), X509_CRL_get_issuer(c)) == 0 &&
                           X509_CRL_verify(c, X509_get0_pubkey(x)) == 1;
        }
        ERR_clear_error();
        if (!signed_by_ca) {
            char issuer[256] = "?";
            X509_NAME_oneline(X509_CRL_get_issuer(c), issuer, sizeof issuer);
            snprintf(why, whylen, "the CRL of '%s' in '%s' is not signed by a CA of tls_ca ('%s')", issuer, crl, ca);
            goto fail;
        }
    }
    sk_X509_INFO_pop_free(cas, X509_INFO_free);
    return crls;
fail:
    sk_X509_INFO_pop_free(cas, X509_INFO_free);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return NULL;
}

int tls_crl_store(const char *ca, const char *crl, void **out, char *why, size_t whylen)
{
    *out = NULL;
    STACK_OF(X509_CRL) *crls = read_crls(ca, crl, why, whylen);
    if (!crls)
        return -1;
    X509_STORE *store = X509_STORE_new();
    int rc = -1;
    if (!store || X509_STORE_load_file(store, ca) != 1) {
        snprintf(why, whylen, "'%s' holds no PEM CA certificate: %s", ca, ssl_reason());
        goto out;
    }
    for (int i = 0; i < sk_X509_CRL_num(crls); i++) {
        if (X509_STORE_add_crl(store, sk_X509_CRL_value(crls, i)) != 1) {
            snprintf(why, whylen, "the CRLs of '%s' could not be taken: %s", crl, ssl_reason());
            goto out;
        }
    }
    /* The client's own certificate must be in no CRL of its issuer, and
     * an issuer without a CRL here vouches for nobody. */
    X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
    *out = store;
    store = NULL;
    rc = 0;
out:
    X509_STORE_free(store);
    sk_X509_CRL_pop_free(crls, X509_CRL_free);
    return rc;
}

int tls_crl_store_apply(void *store, void *ssl_ctx, char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    SSL_CTX_set1_cert_store(ssl_ctx, store);
    return 0;
}

void tls_crl_store_free(void *store)
{
    X509_STORE_free(store);
}

int tls_files_check(const char *cert, const char *key, const char *ca, const char *crl, const char *ciphers,
                    const char **bad_key, char *why, size_t whylen)
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
    if (ca && crl) {
        *bad_key = "tls_crl";
        void *store;
        if (tls_crl_store(ca, crl, &store, why, whylen) < 0)
            goto out;
        tls_crl_store_free(store);
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
    X509_STORE *crl_store; /* [server] tls_crl: the CAs and their CRLs; NULL without */
};

void tls_cert_bundle_free(struct tls_cert_bundle *b)
{
    if (!b)
        return;
    X509_free(b->cert);
    sk_X509_pop_free(b->chain, X509_free);
    EVP_PKEY_free(b->key);
    X509_STORE_free(b->crl_store);
    free(b);
}

int tls_files_load(const char *cert, const char *key, const char *ca, const char *crl, struct tls_cert_bundle **out,
                   const char **bad_key, char *why, size_t whylen)
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
    if (ca && crl) {
        *bad_key = "tls_crl";
        void *store;
        if (tls_crl_store(ca, crl, &store, why, whylen) < 0)
            goto out;
        b->crl_store = store;
    }
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
    if (b->crl_store)
        return tls_crl_store_apply(b->crl_store, ssl_ctx, why, whylen);
    return 0;
}

bool tls_cert_bundle_revokes(const struct tls_cert_bundle *b, void *x509)
{
    if (!b->crl_store || !x509)
        return false;
    STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(b->crl_store);
    for (int i = 0; i < sk_X509_OBJECT_num(objs); i++) {
        X509_CRL *crl = X509_OBJECT_get0_X509_CRL(sk_X509_OBJECT_value(objs, i));
        X509_REVOKED *entry;
        if (crl && X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_issuer_name(x509)) == 0 &&
            X509_CRL_get0_by_cert(crl, &entry, x509) == 1)
            return true;
    }
    return false;
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
    int ncrls = 0;
    if (b->crl_store) {
        STACK_OF(X509_OBJECT) *objs = X509_STORE_get0_objects(b->crl_store);
        for (int i = 0; i < sk_X509_OBJECT_num(objs); i++)
            ncrls += X509_OBJECT_get_type(sk_X509_OBJECT_value(objs, i)) == X509_LU_CRL;
    }
    if (b->crl_store)
        snprintf(out, len, "subject %s, serial %s, valid until %s; %d CRL%s", subject, serial, until, ncrls,
                 ncrls == 1 ? "" : "s");
    else
        snprintf(out, len, "subject %s, serial %s, valid until %s", subject, serial, until);
}
