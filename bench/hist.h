/* A log-linear latency histogram in the manner of HdrHistogram.
 *
 * Values are unsigned 64-bit integers (chat-bench records nanoseconds).
 * Values below 2^HIST_SUB_BITS are counted exactly; above, every power of two
 * is cut into 2^(HIST_SUB_BITS-1) equal buckets, so a reported value is
 * within 1/2^(HIST_SUB_BITS-1) (0.8 %) of the recorded one. The whole
 * structure is a flat, pointer-free block: workers send it to the parent
 * through a pipe as plain bytes and the parent adds them up.
 */
#ifndef CHAT_BENCH_HIST_H
#define CHAT_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 8
#define HIST_BUCKETS ((1u << HIST_SUB_BITS) + (64u - HIST_SUB_BITS) * (1u << (HIST_SUB_BITS - 1)))

struct hist {
    uint64_t count;
    uint64_t min;          /* UINT64_MAX while empty */
    uint64_t max;
    double sum;            /* for the mean */
    uint64_t buckets[HIST_BUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
/* Adds every count of src to dst. */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value at quantile q (0..1): the highest value equivalent to the
 * bucket holding it, clamped to the exact max; 0 when empty. */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

/* Exposed for the self-test. */
unsigned hist_index(uint64_t v);
uint64_t hist_bucket_high(unsigned idx);

#endif
