/* Fuzz the token path of auth-jwt: header decoding, key choice, libjwt's
 * parsing and verification and the claim checks, with an HS256 key and a
 * key table. The plugin's source is included to reach its static verify(). */
#include "../../plugins/auth-jwt/auth_jwt.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct auth_jwt a;
    static char secret[] = "fuzzing-secret-of-enough-length";
    if (!a.nkeys) {
        a.keys[0] = (struct key){NULL, JWT_ALG_HS256, (unsigned char *)secret, sizeof secret - 1};
        a.keys[1] = (struct key){"k1", JWT_ALG_HS384, (unsigned char *)secret, sizeof secret - 1};
        a.nkeys = 2;
        a.leeway = 30;
        a.audience = "chat";
        a.claim_user = "sub";
        a.claim_name = "name";
        a.claim_roles = "roles";
    }
    char *token = malloc(size + 1);
    if (!token)
        return 0;
    memcpy(token, data, size);
    token[size] = '\0';
    struct answer ans = {0};
    verify(&a, token, &ans);
    free(ans.user);
    free(ans.name);
    free(token);
    return 0;
}
