/*
 * chatd SDK — what the host (the chatd daemon) offers to a plugin.
 *
 * A plugin receives a `const struct chatd_host *` in its init() and may keep
 * it until its fini() returns. Every function pointer here takes that host as
 * its first argument.
 *
 * Thread. Unless a function says "any thread", call it only from the core
 * thread: the one thread that runs init(), fini(), every operation of every
 * plugin, every completion callback and every libevent callback registered on
 * `base`.
 *
 * Ownership. Strings and buffers passed to the host are borrowed for the
 * duration of the call; the host copies what it keeps. Strings returned by
 * the host stay valid for as long as the function's doc says.
 *
 * Re-entrancy. Every host function may be called from inside any operation
 * of the plugin, from its init() (config_* only during init) and from its
 * own callbacks; none of them calls back into the same plugin before it
 * returns, except where its doc says so.
 *
 * How this struct grows and which plugins a chatd loads: plugin.h, at the top
 * ("Growth" and "Versions").
 */
#ifndef CHATD_HOST_H
#define CHATD_HOST_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct event_base;

/* SDK version of these headers. A chatd loads a plugin of the same major
 * whatever its minor, older or newer (plugin.h, "Versions"); what a minor
 * after 2.0 adds is marked "SDK 2.N" where it is declared and is optional
 * on both sides. */
#define CHATD_ABI_MAJOR 2
#define CHATD_ABI_MINOR 13

#if defined(__GNUC__) || defined(__clang__)
#define CHATD_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#define CHATD_EXPORT __attribute__((visibility("default")))
#else
#define CHATD_PRINTF(fmt, args)
#define CHATD_EXPORT
#endif

/* The one status type of the SDK. 0 is success. Values are explicit and are
 * only ever appended. "Denied" (the caller may not do this) is distinct from
 * "failed" (the backend could not do it right now). */
typedef enum chatd_status {
    CHATD_OK = 0,
    CHATD_ERR_NOMEM = 1,       /* out of memory */
    CHATD_ERR_INVALID = 2,     /* bad argument, config value or input */
    CHATD_ERR_NOT_FOUND = 3,   /* no such room, user, key, ... */
    CHATD_ERR_EXISTS = 4,      /* already there; the result carries the existing one */
    CHATD_ERR_CONFLICT = 5,    /* lost a race or wrong state (a claim already taken) */
    CHATD_ERR_DENIED = 6,      /* authentication or authorization refused */
    CHATD_ERR_UNAVAILABLE = 7, /* backend unreachable; may succeed later */
    CHATD_ERR_TIMEOUT = 8,     /* backend did not answer in time */
    CHATD_ERR_CLOSED = 9,      /* the host or plugin is shutting down */
    CHATD_ERR_UNSUPPORTED = 10,/* this plugin does not implement the operation */
    CHATD_ERR_LIMIT = 11,      /* a configured bound was hit */
    CHATD_ERR_INTERNAL = 12,   /* a bug or an unexpected backend answer */
    CHATD_PENDING = 13,        /* accepted; the outcome is reported later (see its use) */
} chatd_status;

/* A fixed English text for a status; never NULL. */
static inline const char *chatd_strerror(chatd_status st)
{
    switch (st) {
    case CHATD_OK: return "ok";
    case CHATD_ERR_NOMEM: return "out of memory";
    case CHATD_ERR_INVALID: return "invalid argument";
    case CHATD_ERR_NOT_FOUND: return "not found";
    case CHATD_ERR_EXISTS: return "already exists";
    case CHATD_ERR_CONFLICT: return "conflict";
    case CHATD_ERR_DENIED: return "denied";
    case CHATD_ERR_UNAVAILABLE: return "backend unavailable";
    case CHATD_ERR_TIMEOUT: return "timed out";
    case CHATD_ERR_CLOSED: return "shutting down";
    case CHATD_ERR_UNSUPPORTED: return "not supported";
    case CHATD_ERR_LIMIT: return "limit reached";
    case CHATD_ERR_INTERNAL: return "internal error";
    case CHATD_PENDING: return "pending";
    }
    return "unknown status";
}

typedef enum chatd_log_level {
    CHATD_LOG_ERROR = 0,
    CHATD_LOG_WARN = 1,
    CHATD_LOG_INFO = 2,
    CHATD_LOG_DEBUG = 3,
} chatd_log_level;

/* Function run on the core thread by post(). */
typedef void (*chatd_task_fn)(void *arg);

/* Filled by the host; every member here is part of SDK 2.0 and present in
 * every chatd 2.x. A member a later minor appends is marked "SDK 2.N": a
 * plugin checks CHATD_HOST_HAS(host, member) before calling it. */
struct chatd_host {
    /* sizeof(struct chatd_host) as the host built it. */
    size_t size;
    uint32_t abi_major; /* the SDK version of the chatd running the plugin */
    uint32_t abi_minor;

    /* The config section this plugin instance was loaded from ("auth",
     * "storage", "broker", "notify.push", ...). Valid until fini returns. */
    const char *section;

    /* The core thread's libevent loop. A plugin registers its sockets and
     * timers here and never blocks the thread. Valid until fini returns;
     * every event a plugin adds must be freed by fini. */
    struct event_base *base;

    /* Log a line, tagged with the plugin's section, at `level`. Any thread;
     * fmt and its arguments are borrowed for the call. */
    void (*log)(const struct chatd_host *h, chatd_log_level level,
                const char *fmt, ...) CHATD_PRINTF(3, 4);

    /* Run fn(arg) on the core thread, soon, in the order posted, never
     * before post() returns. Any thread: this is how a plugin that keeps a
     * thread of its own hands results back, and how a plugin on the core
     * thread completes an operation after the call that started it has
     * returned. arg is the plugin's, the host only passes it on.
     * Returns CHATD_OK, or CHATD_ERR_CLOSED once the host is shutting down
     * (fn will not run: the caller still owns arg), or CHATD_ERR_NOMEM. */
    chatd_status (*post)(const struct chatd_host *h, chatd_task_fn fn, void *arg);

    /* The plugin's config section, during init() only. Reading a key marks it
     * known; after init() returns CHATD_OK the host rejects the start-up if
     * any key of the section was never read ("unknown key"), so a plugin
     * rejects keys it does not know by simply not reading them.
     * config_get: the value, or NULL when absent. The `plugin` key is the
     * host's own and never needs reading.
     * config_count/config_key/config_value: walk every key in file order
     * (config_value marks that key known). Strings valid until init returns.
     * Core thread, during init(). */
    const char *(*config_get)(const struct chatd_host *h, const char *key);
    size_t (*config_count)(const struct chatd_host *h);
    const char *(*config_key)(const struct chatd_host *h, size_t i);
    const char *(*config_value)(const struct chatd_host *h, size_t i);

    /* Record why init() fails, naming the offending key (NULL when none); the
     * host prints it as one line "FILE: [SECTION] KEY: reason". Call it before
     * returning an error from init(). Core thread, during init() only. */
    void (*config_error)(const struct chatd_host *h, const char *key,
                         const char *fmt, ...) CHATD_PRINTF(3, 4);

    /* Broker plugins: hand an event received on `channel` to the core.
     * channel and data are borrowed for the call. Core thread.
     * Re-entrancy: may be called from anywhere on the core thread, also from
     * inside subscribe, unsubscribe or publish; an event delivered while one
     * of those runs reaches the core after it returned, and every later one
     * after it (the order per channel holds). Never calls into the plugin
     * before it returns. */
    void (*deliver)(const struct chatd_host *h, const char *channel,
                    const void *data, size_t len);

    /* Storage and broker plugins: say whether the backend is usable now
     * (connected) or not, with a short reason (borrowed; may be NULL). The
     * host reports it in readiness and logs transitions. After a broker
     * comes back up the host asks its subscribers to catch up from storage,
     * which subscribes and publishes: a broker's set_ready(true) made inside
     * one of its operations takes effect after that operation returned;
     * made elsewhere, the broker must expect subscribe and publish calls
     * before set_ready returns. Core thread. */
    void (*set_ready)(const struct chatd_host *h, bool ready, const char *reason);

    /* Add delta to the plugin's counter `name` (letters, digits and '_';
     * borrowed), shown by GET /metrics as
     * chatd_plugin_events_total{section="SECTION",event="NAME"}. A plugin
     * has at most 16 counters; more are ignored. Core thread. */
    void (*counter_add)(const struct chatd_host *h, const char *name, uint64_t delta);

    /* Broker plugins whose subscribe returned CHATD_PENDING: the channel is
     * live now (st CHATD_OK: events published from now on reach this
     * instance) or could not be subscribed (an error status). The host
     * holds a client's RECEIPT for SUBSCRIBE, and a catch-up, until then.
     * channel is borrowed. Core thread; call it after subscribe returned
     * (made inside a broker operation, it is held, like deliver, until that
     * operation returned). */
    void (*channel_live)(const struct chatd_host *h, const char *channel, chatd_status st);
};

/* Whether struct s, filled by the other side, has `member`: its leading
 * `size` reaches past the member. s is a pointer to any struct of the SDK
 * (every one starts with `size_t size`, the descriptor excepted); nothing is
 * read but `size`. Use it before reading a member a later minor added
 * ("SDK 2.N"); members of 2.0 are always there. */
#define CHATD_HAS(s, member)                                                \
    ((s)->size >= (size_t)((const char *)&(s)->member - (const char *)(s)) + \
                      sizeof((s)->member))

/* Whether the host that built h has `member` (added in a later minor). */
#define CHATD_HOST_HAS(h, member) CHATD_HAS(h, member)

#ifdef __cplusplus
}
#endif

#endif /* CHATD_HOST_H */
