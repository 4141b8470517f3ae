/* A files plugin (SDK 2.10) as the core calls it: the same operations and
 * answers as struct chatd_files_ops, with the SDK's rules held in one
 * place. An answer given inside the operation's own call is a plugin bug:
 * it is logged and the caller gets CHATD_ERR_INTERNAL, after the call.
 * Every callback runs on the core thread, exactly once, never before the
 * function here returned. Operations still unanswered when the plugin is
 * unloaded are forgotten (their callers are gone). Core thread. */
#ifndef CHATD_FILES_PORT_H
#define CHATD_FILES_PORT_H

#include <chatd/plugin.h>

struct plugin;

void files_port_put_begin(struct plugin *p, const struct chatd_file *f, chatd_file_cb cb, void *ctx);
void files_port_put_write(struct plugin *p, const char *id, const void *data, size_t len, chatd_files_done_cb cb,
                          void *ctx);
void files_port_put_finish(struct plugin *p, const struct chatd_file *f, chatd_file_cb cb, void *ctx);
void files_port_put_abort(struct plugin *p, const char *id, chatd_files_done_cb cb, void *ctx);
void files_port_read(struct plugin *p, const char *id, uint64_t offset, size_t max, chatd_file_read_cb cb,
                     void *ctx);
void files_port_remove(struct plugin *p, const char *id, chatd_files_done_cb cb, void *ctx);
void files_port_remove_room(struct plugin *p, const char *room, chatd_files_done_cb cb, void *ctx);
void files_port_remove_owner(struct plugin *p, const char *owner, chatd_files_done_cb cb, void *ctx);
void files_port_usage(struct plugin *p, const char *owner, chatd_file_usage_cb cb, void *ctx);

#endif
