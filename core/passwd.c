#include "passwd.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <string.h>

static void hex(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 15];
    }
    out[2 * n] = '\0';
}

int passwd_hash(const char *password, unsigned iterations, char *out, size_t outlen)
{
    unsigned char salt[16], key[32];
    char salt_hex[33], key_hex[65];
    if (RAND_bytes(salt, sizeof salt) != 1)
        return -1;
    if (PKCS5_PBKDF2_HMAC(password, (int)strlen(password), salt, sizeof salt, (int)iterations,
                          EVP_sha256(), sizeof key, key) != 1)
        return -1;
    hex(salt, sizeof salt, salt_hex);
    hex(key, sizeof key, key_hex);
    int n = snprintf(out, outlen, "pbkdf2-sha256$%u$%s$%s", iterations, salt_hex, key_hex);
    return n > 0 && (size_t)n < outlen ? 0 : -1;
}
