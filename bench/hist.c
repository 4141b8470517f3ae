#include "hist.h"

#include <string.h>

#define SUB (1u << HIST_SUB_BITS)
#define HALF (1u << (HIST_SUB_BITS - 1))

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

unsigned hist_index(uint64_t v)
{
    if (v < SUB)
        return (unsigned)v;
    unsigned msb = 63u - (unsigned)__builtin_clzll(v);
    unsigned shift = msb - (HIST_SUB_BITS - 1);          /* >= 1 */
    unsigned sub = (unsigned)(v >> shift);                /* in [HALF, SUB) */
    return SUB + (shift - 1) * HALF + (sub - HALF);
}

uint64_t hist_bucket_high(unsigned idx)
{
    if (idx < SUB)
        return idx;
    unsigned shift = (idx - SUB) / HALF + 1;
    uint64_t sub = (idx - SUB) % HALF + HALF;
    uint64_t low = sub << shift;
    uint64_t width = (uint64_t)1 << shift;
    return low + (width - 1);          /* wraps to UINT64_MAX in the top bucket */
}

void hist_record(struct hist *h, uint64_t v)
{
    h->buckets[hist_index(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    if (src->count == 0)
        return;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_quantile(const struct hist *h, double q)
{
    if (h->count == 0)
        return 0;
    if (q <= 0)
        return h->min;
    if (q > 1)
        q = 1;
    /* The rank of the value wanted, 1-based: the smallest value with at
     * least q of the counts at or below it. */
    uint64_t rank = (uint64_t)(q * (double)h->count + 0.999999999);
    if (rank < 1)
        rank = 1;
    if (rank > h->count)
        rank = h->count;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = hist_bucket_high(i);
            if (v > h->max)
                v = h->max;
            if (v < h->min)
                v = h->min;
            return v;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0.0;
}
