/* Fuzz the token path of auth-jwt: header decoding, key choice, libjwt's
 * parsing and verification and the claim checks (jti included), with an
 * HS256 key and a key table. The plugin's source is included to reach its
 * static verify(). */
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
        a.revocation = true; /* verify() extracts the jti; nothing is sent */
        a.require_jti = false;
    }
    char *token = malloc(size + 1);
    if (!token)
        return 0;
    memcpy(token, data, size);
    token[size] = '\0';
    struct answer *ans = calloc(1, sizeof *ans);
    if (ans) {
        verify(&a, token, ans);
        answer_free(ans);
    }
    free(token);
    return 0;
}
