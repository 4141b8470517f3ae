/* The credentials auth-static verified lately, so that a client coming
 * back (a reconnect, a reconnect storm after a deploy) skips PBKDF2.
 *
 * An entry is only a key: SHA-256 of a random salt drawn when the cache is
 * made, the user name, a NUL and the password. Neither the password nor a
 * hash an offline attack could use outside this process is kept, and only
 * a successful verification is ever put. Entries live `ttl_ms` from their
 * verification (a hit does not extend it); at most `capacity` are kept,
 * the oldest making room for the newest. A reload makes a new plugin
 * instance, so a new, empty cache with a new salt.
 *
 * Single-threaded: the plugin uses it on the core thread only. */
#ifndef AUTH_STATIC_VERIFY_CACHE_H
#define AUTH_STATIC_VERIFY_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VERIFY_KEY_LEN 32

struct verify_cache;

/* capacity 0 or ttl_ms 0: a cache that never hits (keys still work, for
 * telling identical verifications apart). NULL when out of memory or
 * when no random salt could be drawn. */
struct verify_cache *verify_cache_new(size_t capacity, int64_t ttl_ms);
void verify_cache_free(struct verify_cache *c);

/* The key of user + NUL + password under this cache's salt. 0, or -1 when
 * the digest failed (then do not use the cache). */
int verify_cache_key(const struct verify_cache *c, const char *user, const char *password,
                     unsigned char key[VERIFY_KEY_LEN]);

/* Whether key was put less than ttl_ms before now_ms (monotonic ms). */
bool verify_cache_hit(const struct verify_cache *c, const unsigned char key[VERIFY_KEY_LEN], int64_t now_ms);

/* Remember key as verified at now_ms (again, if it is there). */
void verify_cache_put(struct verify_cache *c, const unsigned char key[VERIFY_KEY_LEN], int64_t now_ms);

/* Entries held, expired ones included until their slot is reused. */
size_t verify_cache_count(const struct verify_cache *c);

#endif
