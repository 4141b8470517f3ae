/* Fuzz the support waits other instances tell over the broker
 * (wire/wait_news_json.c decoding, rooms/first_response.c keeping): one
 * input is several pieces of news, one per line, decoded and applied in
 * order to one instance's waits, so that ends and flags meet the waits
 * they are about. Whatever arrives, nothing is read or written out of
 * bounds, the waits stay ordered by their start, a decoded piece encodes
 * to one that decodes the same, and the instance's own counts stay zero
 * (news never makes a wait this instance checks). The core's source is
 * included with stand-ins for the log, the metrics and the storage (never
 * reached: no deadline runs). */
#include "../../core/rooms/first_response.c"
#include "../../core/wire/wait_news_json.c"

void log_msg(chatd_log_level level, const char *source, uint64_t session, const char *fmt, ...)
{
    (void)level, (void)source, (void)session, (void)fmt;
}

void metrics_observe_wait(uint64_t buckets[10], double *sum, int64_t ms)
{
    (void)buckets, (void)sum, (void)ms;
}

const struct chatd_storage_ops *storage_ops(const struct plugin *p, void **state)
{
    (void)p, (void)state;
    abort(); /* no deadline check runs here */
}

static void same(const struct wait_news *a, const struct wait_news *b)
{
    if (a->kind != b->kind || strcmp(a->room, b->room) != 0 || !a->customer != !b->customer ||
        (a->customer && strcmp(a->customer, b->customer) != 0) || a->since_ms != b->since_ms ||
        a->answered_ms != b->answered_ms)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct event_base *base;
    static struct rooms r;
    if (!base)
        base = event_base_new();
    struct first_response *fr = first_response_new(&r, base, 1000);
    const char *p = (const char *)data, *end = p + size;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) : (size_t)(end - p);
        char from[24];
        struct wait_news n, back;
        struct wait_news_buf buf, buf2;
        if (wait_news_decode(p, len, from, sizeof from, &n, &buf) == 0) {
            char *text = wait_news_encode(from, &n);
            char from2[24];
            if (!text || wait_news_decode(text, strlen(text), from2, sizeof from2, &back, &buf2) != 0 ||
                strcmp(from, from2) != 0)
                abort();
            same(&n, &back);
            free(text);
            first_response_heard(fr, &n);
        }
        p += len + 1;
    }
    if (!first_response_sound(fr))
        abort();
    size_t waiting, breached;
    first_response_counts(fr, &waiting, &breached);
    if (waiting || breached)
        abort();
    first_response_close(fr);
    first_response_free(fr);
    return 0;
}
