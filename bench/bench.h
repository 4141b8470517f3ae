/* chat-bench: a STOMP 1.2 load generator (WebSocket or raw TCP).
 *
 * The parent process parses the options, forks the worker processes, and
 * drives every phase through one pipe per direction and worker: workers set
 * up their sessions and say READY; the parent says GO (publish), MEASURE
 * (start counting), STOP; workers drain and send their RESULT, a flat
 * struct wstats that the parent adds up.
 */
#ifndef CHAT_BENCH_H
#define CHAT_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "hist.h"

/* SC_RECONNECT: set up like connect; at GO every session is dropped at
 * once and all reconnect together (a reconnect storm), retrying after the
 * server's retry-after when it sheds them; the second READY reports that. */
/* SC_DESK: the support desk (desk.c), run in the parent process alone. */
enum scenario { SC_IDLE, SC_FANOUT, SC_PAIRS, SC_CONNECT, SC_APPENDS, SC_BLAST, SC_RECONNECT, SC_DESK };
/* ws://, tcp://, sockjs-ws:// (SockJS' websocket transport), sockjs-xhr://
 * (SockJS' xhr-streaming, sending with xhr_send) */
enum transport { TR_WS, TR_TCP, TR_SOCKJS_WS, TR_XHR_STREAMING };

/* A server address: --url, and --publish-url when given. */
struct endpoint {
    char url[1024];
    char host[256];           /* as written in the URL, for Host: */
    char port[16];
    char path[512];
    struct sockaddr_storage addr;
    socklen_t addrlen;
};

#define EP_MAIN 0             /* --url: every session, or the subscribers */
#define DESK_MAX_INSTANCES 16  /* desk: -u and --http-url, each at most this often */
#define EP_PUB  1             /* --publish-url: the publishing sessions */

struct options {
    enum transport transport; /* the same for both endpoints */
    struct endpoint ep[2];
    bool split;               /* --publish-url given: publishers use ep[EP_PUB] */
    uint32_t *src;            /* source addresses, host byte order */
    size_t nsrc;
    const char *login, *passcode, *vhost;
    char **user_login, **user_pass;  /* --users FILE */
    size_t nusers;
    long sessions;
    int processes;
    enum scenario scenario;
    long rooms, members;
    int publishers;           /* per room (fanout) */
    double rate;              /* messages/s over all publishers; 0 = flat out */
    int window;               /* flat out: messages in flight per publisher */
    double duration, warmup, drain, setup_timeout;
    int body_size;
    const char *prefix;
    int concurrency;          /* set-ups in progress per worker (the reconnect storm: all at once) */
    int retries;              /* connect, reconnect: attempts after "server busy, retry", at most */
    int idle_subs;
    pid_t server_pid;
    bool json;
    int verbose;
    const char *label;
    const char *room;         /* appends: the room id of /app/rooms/ID/send */
    uint64_t run_id;          /* appends: makes client-ids unique per run */
    /* blast: session 0 publishes --count messages to one destination as fast
     * as its socket takes them; sessions 1..readers read as fast as they can,
     * the slow_readers after them at most slow_rate bytes/s. */
    long readers, slow_readers, count;
    double slow_rate;
    bool sessions_set, duration_set;
    /* desk: customers (-n) open support rooms over REST at --rate; agents
     * take them as routing assigns them, answer, and complete them after
     * think_time. Instance k is desk_stomp[k] (tcp://) + desk_http[k]; the
     * customer or agent number i (from 1) talks to instance (i-1) mod n. */
    struct endpoint desk_stomp[DESK_MAX_INSTANCES], desk_http[DESK_MAX_INSTANCES];
    int desk_instances;
    long agents;
    const char *agent_login, *agent_passcode;
    double think_time;
    long max_chats;           /* the server's max_chats_per_agent, checked; 0 = not checked */
    bool warmup_set;
};

extern struct options opt;

/* blast: what the publisher and each class of reader saw. Times are
 * CLOCK_MONOTONIC ns, 0 = never. */
struct bstats {
    uint64_t normal_readers, normal_min, normal_got, normal_dropped, normal_gaps;
    uint64_t slow_readers, slow_min, slow_max, slow_got, slow_dropped, slow_gaps;
    uint64_t slow_drained;    /* read after the stop, while looking for the server's close */
    int64_t normal_end_ns;    /* the last message of the last normal reader to finish */
    int64_t normal_max_pause_ns;  /* the longest time a normal reader waited for the next message */
    uint64_t pub_sent;        /* SENDs written (the last one asks for a receipt) */
    int64_t pub_go_ns;        /* publishing started */
    int64_t pub_written_ns;   /* the kernel took the last byte */
    int64_t pub_receipt_ns;   /* the RECEIPT of the last SEND: the server took them all */
    uint64_t pub_errors, pub_dropped;
    char pub_error[160];      /* the message header of the publisher's first ERROR */
};

/* What one worker measured; the parent sums them. Plain data only. */
struct wstats {
    int64_t setup_first_ns;   /* CLOCK_MONOTONIC: first connect started */
    int64_t setup_last_ns;    /* last session became ready */
    uint64_t attempted, ready, failed;
    /* appends: "delivered" counts RECEIPTs, "lat" is SEND -> RECEIPT */
    uint64_t published, delivered;              /* inside the measured window */
    uint64_t published_total, delivered_total;  /* from GO to the end of the drain */
    uint64_t error_frames, disconnects, connect_failures, timeouts, skipped;
    uint64_t retries;         /* connect, reconnect: set-ups retried after ERROR "server busy, retry" */
    struct hist setup;        /* connect() to ready (CONNECTED, and RECEIPT of the subscriptions) */
    struct hist lat;          /* end-to-end latency of messages published in the window (blast: normal readers') */
    struct bstats b;
};

/* Parent -> worker commands, one byte each. */
#define CMD_GO      'g'
#define CMD_MEASURE 'm'
#define CMD_STOP    's'

/* Worker -> parent messages: a uint32_t type, then a struct wstats. */
#define MSG_READY  1u
#define MSG_RESULT 2u
#define MSG_DONE   3u  /* blast: this worker's publisher and normal readers are through */

int64_t now_ns(void);
/* Runs the desk scenario and prints its report; returns the exit status. */
int desk_run(void);
/* Runs one worker to the end; returns the exit status. */
int worker_main(int id, int ctl_fd, int res_fd);
int write_full(int fd, const void *buf, size_t len);
/* buf: pattern with its first "%d" replaced by n (bench/text.c). */
void bench_expand(char *buf, size_t size, const char *pattern, size_t n);
/* in[0..len) in base64 into out (4 * ((len + 2) / 3) + 1 bytes). */
void bench_base64(const unsigned char *in, size_t len, char *out);
int read_full(int fd, void *buf, size_t len);

#endif
