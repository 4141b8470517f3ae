/* broker-unixdgram: several chatd instances on one host, talking through
 * Unix datagram sockets in a shared directory.
 *
 *   [broker]
 *   plugin = /path/to/broker_unixdgram.so
 *   dir    = /run/chatd/broker      ; shared by every instance
 *   name   = a                      ; optional; default chatd-<pid>
 *
 * Each instance binds `<dir>/<name>.sock`. publish() sends one datagram,
 * the channel, a NUL, then the event bytes, to every `*.sock` in the
 * directory, its own included; each instance hands on only the channels it
 * subscribed to. Membership is the directory itself: an instance joins by
 * binding and leaves by unlinking, and a socket left behind by a crash is
 * unlinked by the first publisher that finds nobody reading it.
 *
 * Nothing blocks: a peer whose receive queue is full misses the event (the
 * broker contract allows loss; storage is the record and clients catch up
 * with since-seq). See README.md for the limits of this design. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* MSG_NOSIGNAL, dirent, strdup with -std=c17 */
#endif
#include <chatd/plugin.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

/* Bound on channel + NUL + event. Linux accepts Unix datagrams up to the
 * socket's send buffer (about 200 KiB by default); 64 KiB leaves room. */
#define DATAGRAM_MAX 65536
/* Datagrams read per wake-up, so that a chatty peer cannot starve the loop. */
#define READ_BURST 64

struct unixdgram {
    const struct chatd_host *host;
    char *dir;
    struct sockaddr_un self;
    int fd;
    struct event *readable;
    /* Channels with local subscribers. Linear: an instance subscribes to the
     * rooms its own clients watch; a busy one would want a hash set. */
    char **channels;
    size_t nchannels, cap;
    char buf[DATAGRAM_MAX + 1]; /* one more byte tells an oversized datagram */
};

static ptrdiff_t channel_find(const struct unixdgram *b, const char *channel)
{
    for (size_t i = 0; i < b->nchannels; i++)
        if (strcmp(b->channels[i], channel) == 0)
            return (ptrdiff_t)i;
    return -1;
}

static void on_readable(evutil_socket_t fd, short what, void *arg)
{
    (void)what;
    struct unixdgram *b = arg;
    for (int i = 0; i < READ_BURST; i++) {
        ssize_t n = recv(fd, b->buf, sizeof b->buf, 0);
        if (n < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
                b->host->log(b->host, CHATD_LOG_WARN, "receive: %s", strerror(errno));
            return;
        }
        const char *nul = memchr(b->buf, '\0', (size_t)n);
        if (!nul || n > DATAGRAM_MAX) {
            b->host->log(b->host, CHATD_LOG_DEBUG, "dropped a malformed datagram of %zd bytes", n);
            continue;
        }
        if (channel_find(b, b->buf) >= 0)
            b->host->deliver(b->host, b->buf, nul + 1, (size_t)(b->buf + n - (nul + 1)));
    }
}

static chatd_status ud_subscribe(void *state, const char *channel)
{
    struct unixdgram *b = state;
    if (channel_find(b, channel) >= 0)
        return CHATD_OK;
    if (b->nchannels == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        char **v = realloc(b->channels, cap * sizeof *v);
        if (!v)
            return CHATD_ERR_NOMEM;
        b->channels = v;
        b->cap = cap;
    }
    if (!(b->channels[b->nchannels] = strdup(channel)))
        return CHATD_ERR_NOMEM;
    b->nchannels++;
    return CHATD_OK;
}

static chatd_status ud_unsubscribe(void *state, const char *channel)
{
    struct unixdgram *b = state;
    ptrdiff_t i = channel_find(b, channel);
    if (i < 0)
        return CHATD_ERR_NOT_FOUND;
    free(b->channels[i]);
    b->channels[i] = b->channels[--b->nchannels];
    return CHATD_OK;
}

static bool is_socket_name(const char *name)
{
    size_t n = strlen(name);
    return n > 5 && strcmp(name + n - 5, ".sock") == 0;
}

/* `<dir>/<name>` into addr; false when it does not fit sun_path. */
static bool make_addr(struct sockaddr_un *addr, const char *dir, const char *name)
{
    memset(addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    int n = snprintf(addr->sun_path, sizeof addr->sun_path, "%s/%s", dir, name);
    return n > 0 && (size_t)n < sizeof addr->sun_path;
}

static chatd_status ud_publish(void *state, const char *channel, const void *data, size_t len)
{
    struct unixdgram *b = state;
    size_t clen = strlen(channel) + 1;
    if (clen + len > DATAGRAM_MAX) {
        b->host->log(b->host, CHATD_LOG_WARN, "event of %zu bytes on %s exceeds %d: not sent", len, channel,
                     DATAGRAM_MAX);
        return CHATD_ERR_LIMIT;
    }
    /* Reading the directory on every publish keeps membership exact with no
     * protocol at all; it is a local, non-blocking system call, but a busy
     * broker would cache the list and refresh it on a timer. */
    DIR *d = opendir(b->dir);
    if (!d) {
        b->host->log(b->host, CHATD_LOG_WARN, "cannot read %s: %s", b->dir, strerror(errno));
        return CHATD_ERR_UNAVAILABLE;
    }
    struct iovec iov[2] = {{(void *)channel, clen}, {(void *)data, len}};
    struct dirent *e;
    while ((e = readdir(d))) {
        struct sockaddr_un peer;
        if (!is_socket_name(e->d_name) || !make_addr(&peer, b->dir, e->d_name))
            continue;
        struct msghdr msg = {.msg_name = &peer, .msg_namelen = sizeof peer, .msg_iov = iov, .msg_iovlen = 2};
        if (sendmsg(b->fd, &msg, MSG_NOSIGNAL) >= 0)
            continue;
        if (errno == ECONNREFUSED) {
            /* Nobody reads it: an instance that died without unlinking. */
            b->host->log(b->host, CHATD_LOG_DEBUG, "removing stale socket %s", peer.sun_path);
            unlink(peer.sun_path);
        } else if (errno != ENOENT) { /* ENOENT: the peer left since readdir */
            /* EAGAIN: the peer's queue is full (it is slow, or
             * net.unix.max_dgram_qlen is small); the event is lost for it. */
            b->host->log(b->host, CHATD_LOG_DEBUG, "dropped an event for %s: %s", peer.sun_path, strerror(errno));
        }
    }
    closedir(d);
    return CHATD_OK;
}

/* Bind, taking over the path only from a dead instance. */
static int bind_self(struct unixdgram *b)
{
    if (bind(b->fd, (struct sockaddr *)&b->self, sizeof b->self) == 0)
        return 0;
    if (errno != EADDRINUSE)
        return -1;
    int probe = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (probe < 0)
        return -1;
    int rc = connect(probe, (struct sockaddr *)&b->self, sizeof b->self);
    int err = errno;
    close(probe);
    if (rc == 0 || err != ECONNREFUSED) {
        errno = EADDRINUSE; /* somebody alive is bound there */
        return -1;
    }
    unlink(b->self.sun_path);
    return bind(b->fd, (struct sockaddr *)&b->self, sizeof b->self);
}

static void ud_free(struct unixdgram *b)
{
    if (b->readable)
        event_free(b->readable);
    if (b->fd >= 0)
        close(b->fd);
    free(b->dir);
    free(b);
}

static chatd_status ud_init(const struct chatd_host *h, void **state)
{
    const char *dir = h->config_get(h, "dir"), *name = h->config_get(h, "name");
    if (!dir || !*dir) {
        h->config_error(h, "dir", "required: the directory the instances share");
        return CHATD_ERR_INVALID;
    }
    char pid_name[32];
    if (!name) {
        snprintf(pid_name, sizeof pid_name, "chatd-%ld", (long)getpid());
        name = pid_name;
    }
    if (!*name || strchr(name, '/')) {
        h->config_error(h, "name", "must be a non-empty file name without '/', got '%s'", name);
        return CHATD_ERR_INVALID;
    }
    if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
        h->config_error(h, "dir", "cannot create '%s': %s", dir, strerror(errno));
        return CHATD_ERR_INVALID;
    }
    struct unixdgram *b = calloc(1, sizeof *b);
    if (!b)
        return CHATD_ERR_NOMEM;
    b->host = h;
    b->fd = -1;
    char file[256];
    snprintf(file, sizeof file, "%s.sock", name);
    if (!(b->dir = strdup(dir))) {
        ud_free(b);
        return CHATD_ERR_NOMEM;
    }
    if (!make_addr(&b->self, dir, file)) {
        h->config_error(h, "dir", "'%s/%s' is too long for a socket path", dir, file);
        ud_free(b);
        return CHATD_ERR_INVALID;
    }
    b->fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (b->fd < 0 || fcntl(b->fd, F_SETFL, O_NONBLOCK) < 0 || fcntl(b->fd, F_SETFD, FD_CLOEXEC) < 0 ||
        bind_self(b) < 0) {
        h->config_error(h, errno == EADDRINUSE ? "name" : "dir", "cannot bind %s: %s", b->self.sun_path,
                        errno == EADDRINUSE ? "another running instance uses this name" : strerror(errno));
        ud_free(b);
        return CHATD_ERR_INVALID;
    }
    b->readable = event_new(h->base, b->fd, EV_READ | EV_PERSIST, on_readable, b);
    if (!b->readable || event_add(b->readable, NULL) < 0) {
        unlink(b->self.sun_path);
        ud_free(b);
        return CHATD_ERR_NOMEM;
    }
    h->log(h, CHATD_LOG_INFO, "bound %s", b->self.sun_path);
    h->set_ready(h, true, b->self.sun_path);
    *state = b;
    return CHATD_OK;
}

static void ud_fini(void *state)
{
    struct unixdgram *b = state;
    unlink(b->self.sun_path); /* leave the directory: peers stop sending here */
    for (size_t i = 0; i < b->nchannels; i++)
        free(b->channels[i]);
    free(b->channels);
    ud_free(b);
}

static const struct chatd_broker_ops ud_ops = {
    .size = sizeof ud_ops,
    .subscribe = ud_subscribe,
    .unsubscribe = ud_unsubscribe,
    .publish = ud_publish,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_BROKER, .name = "unixdgram", .version = "1.0",
                    .description = "instances on one host over Unix datagram sockets (example)",
                    .init = ud_init, .fini = ud_fini, .ops.broker = &ud_ops)
