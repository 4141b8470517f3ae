/* Server lifecycle, used by main(): init (config, plugins), run (gateway and
 * the core loop until a signal), teardown (in dependency order). */
#ifndef CHATD_SERVER_RUN_H
#define CHATD_SERVER_RUN_H

#include <stdbool.h>
#include <stddef.h>

struct server;

/* Read the config and load every plugin. -1 with one line in err. */
/* quiet: log warnings and errors only (for --check-config). */
int server_init(struct server *srv, const char *config_path, bool quiet, char *err, size_t errlen);
/* Serve until SIGINT/SIGTERM and a graceful drain. -1 with one line in err. */
int server_run(struct server *srv, char *err, size_t errlen);
/* Free everything server_init/server_run made; safe after a partial init. */
void server_teardown(struct server *srv);

#endif
