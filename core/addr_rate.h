/* How often one client address may do a thing: a token bucket per address
 * that holds `per_hour` and refills at that rate ([visitors]
 * max_per_ip_per_hour). Addresses whose bucket is full again are forgotten,
 * so the map holds only those active within the hour; past ADDR_RATE_MAX
 * addresses every new one is refused (the limiter fails closed rather than
 * grow without bound). One thread. */
#ifndef CHATD_ADDR_RATE_H
#define CHATD_ADDR_RATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

#define ADDR_RATE_MAX 100000

struct addr_rate {
    struct strmap buckets; /* address -> struct addr_bucket */
    size_t prune_at;       /* the count at which full buckets are next swept */
};

void addr_rate_init(struct addr_rate *r);
void addr_rate_free(struct addr_rate *r);
/* Take one from addr's bucket at now_ms. true when there was one (or
 * per_hour is 0: unlimited); false otherwise, with the milliseconds until
 * the next in *retry_ms (when not NULL). */
bool addr_rate_take(struct addr_rate *r, const char *addr, size_t per_hour, int64_t now_ms, int64_t *retry_ms);
/* Addresses remembered now (tests). */
size_t addr_rate_count(const struct addr_rate *r);

#endif
