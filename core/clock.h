/* The core's two clocks, in milliseconds. Wall time for what is stored,
 * shown or compared with other machines (message timestamps, token
 * expiry, retention cut-offs); monotonic time for intervals and deadlines
 * on this machine (rates, time-outs, presence expiry), which a clock step
 * must not stretch or shorten. */
#ifndef CHATD_CLOCK_H
#define CHATD_CLOCK_H

#include <stdint.h>

/* Unix time. */
int64_t clock_wall_ms(void);
/* Since an arbitrary start; only differences mean anything. */
int64_t clock_mono_ms(void);

#endif
