/* Fuzz what a client certificate says about its user: the first byte picks
 * [server] tls_client_user (cn, san_email, san_dns), the rest is a DER
 * certificate. Whatever it holds, a user name is UTF-8 of 1 to
 * TLS_PEER_IDENTITY_MAX bytes without control characters, and a refusal
 * says why. */
#include <openssl/x509.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/tls_peer.h"
#include "utf8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2)
        return 0;
    enum tls_client_user rule = (enum tls_client_user)(1 + data[0] % 3);
    const unsigned char *der = data + 1;
    X509 *cert = d2i_X509(NULL, &der, (long)(size - 1));
    if (!cert)
        return 0;
    char *identity = NULL;
    const char *problem = NULL;
    int rc = tls_cert_identity(cert, rule, &identity, &problem);
    if (rc == 1) {
        size_t n = identity ? strlen(identity) : 0;
        if (!identity || problem || n == 0 || n > TLS_PEER_IDENTITY_MAX ||
            !utf8_valid((const unsigned char *)identity, n))
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)identity[i] < 0x20 || identity[i] == 0x7f)
                abort();
    } else if (rc != -1 || identity || !problem) {
        abort();
    }
    free(identity);
    X509_free(cert);
    return 0;
}
