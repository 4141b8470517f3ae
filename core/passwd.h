/* Password hashes for the static auth plugin's users. */
#ifndef CHATD_PASSWD_H
#define CHATD_PASSWD_H

#include <stddef.h>

/* "pbkdf2-sha256$ITER$SALT_HEX$HASH_HEX" for password with a random salt.
 * 0, or -1 (no randomness, out of memory). */
int passwd_hash(const char *password, unsigned iterations, char *out, size_t outlen);

#endif
