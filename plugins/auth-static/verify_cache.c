#include "verify_cache.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdlib.h>
#include <string.h>

#define SALT_LEN 32
#define NONE UINT32_MAX

/* Entries sit in a ring in the order they were put, so the slot to reuse
 * when full is the next one (the oldest: every entry has the same TTL);
 * buckets chain them by key for the look-up. */
struct entry {
    unsigned char key[VERIFY_KEY_LEN];
    int64_t verified_ms;
    uint32_t next;   /* in the bucket's chain */
    bool used;
};

struct verify_cache {
    unsigned char salt[SALT_LEN];
    int64_t ttl_ms;
    size_t capacity, count, ring; /* ring: the slot the next new key takes */
    struct entry *entries;
    uint32_t *buckets;
    size_t mask;
};

struct verify_cache *verify_cache_new(size_t capacity, int64_t ttl_ms)
{
    if (capacity >= NONE)
        return NULL;
    struct verify_cache *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    if (RAND_bytes(c->salt, SALT_LEN) != 1) {
        free(c);
        return NULL;
    }
    c->ttl_ms = ttl_ms;
    c->capacity = ttl_ms > 0 ? capacity : 0;
    if (c->capacity) {
        size_t nb = 16;
        while (nb < c->capacity)
            nb *= 2;
        c->mask = nb - 1;
        c->entries = calloc(c->capacity, sizeof *c->entries);
        c->buckets = malloc(nb * sizeof *c->buckets);
        if (!c->entries || !c->buckets) {
            verify_cache_free(c);
            return NULL;
        }
        for (size_t i = 0; i < nb; i++)
            c->buckets[i] = NONE;
    }
    return c;
}

void verify_cache_free(struct verify_cache *c)
{
    if (!c)
        return;
    free(c->entries);
    free(c->buckets);
    OPENSSL_cleanse(c->salt, SALT_LEN);
    free(c);
}

int verify_cache_key(const struct verify_cache *c, const char *user, const char *password,
                     unsigned char key[VERIFY_KEY_LEN])
{
    EVP_MD_CTX *d = EVP_MD_CTX_new();
    unsigned int n = 0;
    int ok = d && EVP_DigestInit_ex(d, EVP_sha256(), NULL) == 1 && EVP_DigestUpdate(d, c->salt, SALT_LEN) == 1 &&
             EVP_DigestUpdate(d, user, strlen(user) + 1) == 1 && /* the NUL keeps "ab"+"c" from "a"+"bc" */
             EVP_DigestUpdate(d, password, strlen(password)) == 1 && EVP_DigestFinal_ex(d, key, &n) == 1 &&
             n == VERIFY_KEY_LEN;
    EVP_MD_CTX_free(d);
    return ok ? 0 : -1;
}

static size_t bucket_of(const struct verify_cache *c, const unsigned char key[VERIFY_KEY_LEN])
{
    uint64_t h;
    memcpy(&h, key, sizeof h); /* a salted SHA-256 is uniform already */
    return (size_t)h & c->mask;
}

static struct entry *find(const struct verify_cache *c, const unsigned char key[VERIFY_KEY_LEN])
{
    if (!c->capacity)
        return NULL;
    for (uint32_t i = c->buckets[bucket_of(c, key)]; i != NONE; i = c->entries[i].next)
        if (CRYPTO_memcmp(c->entries[i].key, key, VERIFY_KEY_LEN) == 0)
            return &c->entries[i];
    return NULL;
}

bool verify_cache_hit(const struct verify_cache *c, const unsigned char key[VERIFY_KEY_LEN], int64_t now_ms)
{
    const struct entry *e = find(c, key);
    return e && now_ms - e->verified_ms < c->ttl_ms && now_ms >= e->verified_ms;
}

static void unlink_slot(struct verify_cache *c, uint32_t slot)
{
    uint32_t *p = &c->buckets[bucket_of(c, c->entries[slot].key)];
    while (*p != slot)
        p = &c->entries[*p].next;
    *p = c->entries[slot].next;
    c->entries[slot].used = false;
    c->count--;
}

void verify_cache_put(struct verify_cache *c, const unsigned char key[VERIFY_KEY_LEN], int64_t now_ms)
{
    if (!c->capacity)
        return;
    struct entry *e = find(c, key);
    if (e) {
        e->verified_ms = now_ms;
        return;
    }
    uint32_t slot = (uint32_t)c->ring;
    c->ring = (c->ring + 1) % c->capacity;
    if (c->entries[slot].used)
        unlink_slot(c, slot);
    e = &c->entries[slot];
    memcpy(e->key, key, VERIFY_KEY_LEN);
    e->verified_ms = now_ms;
    e->used = true;
    size_t b = bucket_of(c, key);
    e->next = c->buckets[b];
    c->buckets[b] = slot;
    c->count++;
}

size_t verify_cache_count(const struct verify_cache *c)
{
    return c->count;
}
