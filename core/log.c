#include "log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

/* Set once at start-up, before any thread but main exists; read-only after. */
static atomic_int log_level = CHATD_LOG_INFO;
static atomic_int log_fmt = LOG_TEXT;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

void log_setup(chatd_log_level level, enum log_format format)
{
    atomic_store(&log_level, (int)level);
    atomic_store(&log_fmt, (int)format);
}

bool log_enabled(chatd_log_level level)
{
    return (int)level <= atomic_load(&log_level);
}

int log_level_parse(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (strcmp(s, level_names[i]) == 0)
            return i;
    return -1;
}

int log_format_parse(const char *s)
{
    if (strcmp(s, "text") == 0)
        return LOG_TEXT;
    if (strcmp(s, "json") == 0)
        return LOG_JSON;
    return -1;
}

/* Append s to out as the inside of a JSON string. */
static size_t json_escape(char *out, size_t cap, size_t n, const char *s)
{
    for (; *s && n + 7 < cap; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[n++] = '\\';
            out[n++] = (char)c;
        } else if (c < 0x20) {
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", c);
        } else {
            out[n++] = (char)c;
        }
    }
    return n;
}

void log_msgv(chatd_log_level level, const char *source, uint64_t session,
              const char *fmt, va_list ap)
{
    if (!log_enabled(level))
        return;
    char msg[2048];
    vsnprintf(msg, sizeof msg, fmt, ap);

    struct timeval tv;
    gettimeofday(&tv, NULL);
    struct tm tm;
    gmtime_r(&tv.tv_sec, &tm);
    char ts[40];
    size_t tl = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(ts + tl, sizeof ts - tl, ".%03ldZ", (long)(tv.tv_usec / 1000));

    char line[4096];
    size_t n;
    if (atomic_load(&log_fmt) == LOG_JSON) {
        n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s\",\"level\":\"%s\",\"source\":\"",
                             ts, level_names[level]);
        n = json_escape(line, sizeof line, n, source);
        if (session)
            n += (size_t)snprintf(line + n, sizeof line - n, "\",\"session\":%llu,\"msg\":\"",
                                  (unsigned long long)session);
        else
            n += (size_t)snprintf(line + n, sizeof line - n, "\",\"msg\":\"");
        n = json_escape(line, sizeof line - 3, n, msg);
        n += (size_t)snprintf(line + n, sizeof line - n, "\"}\n");
    } else {
        if (session)
            n = (size_t)snprintf(line, sizeof line, "%s %-5s [%s] session=%llu %s\n", ts,
                                 level_names[level], source, (unsigned long long)session, msg);
        else
            n = (size_t)snprintf(line, sizeof line, "%s %-5s [%s] %s\n", ts,
                                 level_names[level], source, msg);
    }
    if (n >= sizeof line) {
        n = sizeof line - 1;
        line[n - 1] = '\n';
    }
    /* One write per line keeps lines whole across threads. */
    fwrite(line, 1, n, stderr);
}

void log_msg(chatd_log_level level, const char *source, uint64_t session,
             const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_msgv(level, source, session, fmt, ap);
    va_end(ap);
}
