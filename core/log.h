/* Levelled logging to stderr, as plain text or JSON lines. Thread-safe. */
#ifndef CHATD_LOG_H
#define CHATD_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <chatd/host.h>

enum log_format { LOG_TEXT = 0, LOG_JSON = 1 };

void log_setup(chatd_log_level level, enum log_format format);
bool log_enabled(chatd_log_level level);
/* Parse "error|warn|info|debug" / "text|json"; -1 when unknown. */
int log_level_parse(const char *s);
int log_format_parse(const char *s);

/* One line. `source` names the component ("core", "gateway", a plugin's
 * section); `session` is a session id or 0. */
void log_msgv(chatd_log_level level, const char *source, uint64_t session,
              const char *fmt, va_list ap) CHATD_PRINTF(4, 0);
void log_msg(chatd_log_level level, const char *source, uint64_t session,
             const char *fmt, ...) CHATD_PRINTF(4, 5);

#define log_error(...) log_msg(CHATD_LOG_ERROR, "core", 0, __VA_ARGS__)
#define log_warn(...) log_msg(CHATD_LOG_WARN, "core", 0, __VA_ARGS__)
#define log_info(...) log_msg(CHATD_LOG_INFO, "core", 0, __VA_ARGS__)
#define log_debug(...) log_msg(CHATD_LOG_DEBUG, "core", 0, __VA_ARGS__)

#endif
