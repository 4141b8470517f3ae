#include "net/tls_peer.h"

#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "utf8.h"

/* An ASN.1 string of the certificate as a user name: UTF-8 whatever its
 * ASN.1 type (PrintableString, UTF8String, BMPString...), checked. */
static int take_string(const ASN1_STRING *in, char **identity, const char **problem)
{
    unsigned char *utf8 = NULL;
    int n = ASN1_STRING_to_UTF8(&utf8, in);
    if (n < 0) {
        *problem = "the client certificate's user name cannot be read as UTF-8";
        return -1;
    }
    bool ok = n > 0 && n <= TLS_PEER_IDENTITY_MAX && utf8_valid(utf8, (size_t)n);
    for (int i = 0; ok && i < n; i++)
        if (utf8[i] < 0x20 || utf8[i] == 0x7f)
            ok = false;
    if (!ok) {
        OPENSSL_free(utf8);
        *problem = n == 0                         ? "the client certificate's user name is empty"
                   : n > TLS_PEER_IDENTITY_MAX ? "the client certificate's user name is too long"
                                               : "the client certificate's user name is not plain UTF-8 text";
        return -1;
    }
    *identity = malloc((size_t)n + 1);
    if (*identity) {
        memcpy(*identity, utf8, (size_t)n);
        (*identity)[n] = '\0';
    }
    OPENSSL_free(utf8);
    if (!*identity) {
        *problem = "out of memory";
        return -1;
    }
    return 1;
}

static int from_common_name(X509 *cert, char **identity, const char **problem)
{
    X509_NAME *subject = X509_get_subject_name(cert);
    int at = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
    if (at < 0) {
        *problem = "the client certificate has no commonName to name its user";
        return -1;
    }
    /* Two commonNames would leave the choice of user to whoever reads them. */
    if (X509_NAME_get_index_by_NID(subject, NID_commonName, at) >= 0) {
        *problem = "the client certificate has more than one commonName";
        return -1;
    }
    return take_string(X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, at)), identity, problem);
}

static int from_alt_name(X509 *cert, int type, char **identity, const char **problem)
{
    GENERAL_NAMES *names = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
    int rc = -1;
    *problem = type == GEN_EMAIL ? "the client certificate has no e-mail address in subjectAltName"
                                 : "the client certificate has no DNS name in subjectAltName";
    for (int i = 0; names && i < sk_GENERAL_NAME_num(names); i++) {
        const GENERAL_NAME *gn = sk_GENERAL_NAME_value(names, i);
        if (gn->type == type) {
            rc = take_string(type == GEN_EMAIL ? gn->d.rfc822Name : gn->d.dNSName, identity, problem);
            break;
        }
    }
    GENERAL_NAMES_free(names);
    if (rc > 0)
        *problem = NULL;
    return rc;
}

int tls_peer_identity(void *ssl, enum tls_client_user rule, char **identity, const char **problem)
{
    *identity = NULL;
    *problem = NULL;
    if (!ssl || rule == TLS_CLIENT_USER_OFF)
        return 0;
    X509 *cert = SSL_get0_peer_certificate(ssl);
    /* The handshake refuses a certificate tls_ca does not verify; a
     * certificate here that is not verified names nobody all the same. */
    if (!cert || SSL_get_verify_result(ssl) != X509_V_OK)
        return 0;
    return tls_cert_identity(cert, rule, identity, problem);
}

int tls_cert_identity(void *x509, enum tls_client_user rule, char **identity, const char **problem)
{
    X509 *cert = x509;
    *identity = NULL;
    *problem = NULL;
    switch (rule) {
    case TLS_CLIENT_USER_CN:
        return from_common_name(cert, identity, problem);
    case TLS_CLIENT_USER_SAN_EMAIL:
        return from_alt_name(cert, GEN_EMAIL, identity, problem);
    case TLS_CLIENT_USER_SAN_DNS:
        return from_alt_name(cert, GEN_DNS, identity, problem);
    case TLS_CLIENT_USER_OFF:
        break;
    }
    return 0;
}
