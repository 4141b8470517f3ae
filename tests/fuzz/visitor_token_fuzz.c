/* Fuzz the visitor-token check (core/visitor_token.c): any bytes as a
 * token. Only a token minted with the key may be VALID, and a valid one
 * names a visitor. Then the same bytes as a renewal's user name. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "visitor_token.h"

static const char key[] = "fuzz-visitor-secret-0123456789abcdef";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *token = malloc(size + 1);
    if (!token)
        return 0;
    memcpy(token, data, size);
    token[size] = '\0';
    char user[VISITOR_USER_MAX], minted[VISITOR_TOKEN_MAX];
    int64_t exp;
    enum visitor_verdict v = visitor_token_verify(key, token, 1780000000000, user, &exp);
    if (v == VISITOR_VALID && (!user_is_visitor(user) || strlen(user) != strlen(VISITOR_USER_PREFIX) + 22))
        abort();
    if (visitor_token_mint(key, token, 1780000000000, 3600000, user, minted, &exp) == 0) {
        if (strcmp(user, token) != 0 ||
            visitor_token_verify(key, minted, 1780000000000, user, &exp) != VISITOR_VALID)
            abort();
    }
    free(token);
    return 0;
}
