/* The counters and histograms of GET /metrics (written out by rest.c).
 * Core thread only. */
#ifndef CHATD_METRICS_H
#define CHATD_METRICS_H

#include <stdint.h>

/* What /metrics reads from the protocol side at the moment it is asked:
 * the composition root sets `gauges` to a function that fills them, so the
 * REST side needs no view of sessions or subscriptions. */
struct metrics_gauges {
    uint64_t connections;   /* client connections open */
    uint64_t sessions;      /* of which CONNECTED */
    uint64_t subscriptions; /* on this instance */
    uint64_t queued;        /* messages waiting in /queue/ destinations */
};
struct metrics_source {
    void (*gauges)(const void *ctx, struct metrics_gauges *out);
    const void *ctx;
};

struct metrics {
    uint64_t sessions_opened, sessions_closed, frames_in, frames_out, http_requests;
    uint64_t messages_stored, deliveries, storage_errors, auth_refused;
    uint64_t notifications, notifications_coalesced; /* offline, handed to notify plugins / held back */
    uint64_t notifications_failed;                   /* in-band or offline, not built or not handed on */
    uint64_t rooms_purged, users_erased; /* closed support rooms removed by retention; erase requests done */
    uint64_t presence_changes, presence_events; /* users' status changes this instance told; events they made */
    uint64_t visitors_issued, visitors_refused; /* POST /api/visitors: tokens issued or renewed; refused by the rate */
    uint64_t reloads, reloads_refused;   /* configuration reloads applied / refused (server_reload.c) */
    /* Milliseconds, buckets le 1,2,5,10,25,50,100,250,1000,+Inf: SEND to
     * storage confirmation; SEND to delivery by this instance. */
    uint64_t store_latency[10];
    double store_latency_sum;
    uint64_t delivery_latency[10];
    double delivery_latency_sum;
    /* The support desk (rooms/routing.c): unassigned rooms as this
     * instance's last routing pass left them; seconds from entering the
     * queue (opened, sent back, reopened: routing_queued_since) to
     * automatic assignment, buckets le 1,5,10,30,60,120,300,600,1800,+Inf. */
    uint64_t support_queue;
    uint64_t assign_wait[10];
    double assign_wait_sum;
    /* Service levels (rooms/first_response.c, rooms/support.c), seconds:
     * entering the queue to assignment, by hand or automatic (wait
     * buckets); opening to the first agent message (wait buckets); assignment to completion
     * (handle buckets, le 60,300,600,900,1800,3600,7200,14400,28800,+Inf);
     * waits that passed [support] first_response_target. */
    uint64_t support_wait[10];
    double support_wait_sum;
    uint64_t first_response[10];
    double first_response_sum;
    uint64_t handle_time[10];
    double handle_time_sum;
    uint64_t first_response_breaches;
    struct metrics_source live; /* NULL gauges: all zero */
};

/* Count one observation of ms milliseconds into a histogram above. */
void metrics_observe(uint64_t buckets[10], double *sum, int64_t ms);
/* The same for assign_wait's buckets. */
void metrics_observe_wait(uint64_t buckets[10], double *sum, int64_t ms);
/* The same for handle_time's buckets. */
void metrics_observe_handle(uint64_t buckets[10], double *sum, int64_t ms);

#endif
