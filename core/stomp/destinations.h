/* STOMP destinations: which ones the server owns, and what a client's SEND
 * or SUBSCRIBE to one means. The one place that knows their shapes: the
 * session routes frames by it, the rooms name their topics with it, and
 * start-up warns with it about allow rules that reach the server's own.
 *
 * The server publishes its events on
 *
 *   /topic/rooms/{room}                 every event of a room
 *   /topic/support/queue                the unassigned support queue changed
 *   /topic/support/agents               an agent's availability changed
 *   /user/{user}/queue/notifications    a user's personal events
 *   /user/{user}/queue/presence         presence of the people a user shares a room with
 *
 * (and presence on a broker channel no destination names: chatd.presence).
 * Clients SUBSCRIBE to them by the rooms' rules (to their own
 * notifications as /user/queue/notifications, presence as
 * /user/queue/presence); no client SENDs to them,
 * whatever `[stomp] allow` says, so that what arrives there is the
 * server's. Every other /topic/X, /queue/X and /user/... is generic
 * pub/sub, closed until an allow rule opens it.
 *
 * Those are canonical names: what the router, the broker and the allow
 * rules use. Clients write them with the configured prefixes
 * (dest_prefixes.h): with `topic_prefix = /topic, /sub` a client may
 * subscribe to /sub/rooms/{room}, which is /topic/rooms/{room}, and its
 * MESSAGEs then say /sub/rooms/{room}. destination_canonical reads a
 * client's destination, destination_client writes one back; every other
 * function here takes canonical names. */
#ifndef CHATD_DESTINATIONS_H
#define CHATD_DESTINATIONS_H

#include <stdbool.h>
#include <stddef.h>

#include "dest_prefixes.h"
#include "stomp/acl.h"

struct config;

#define DEST_ROOM_TOPIC "/topic/rooms/" /* followed by the room id */
#define DEST_SUPPORT_QUEUE "/topic/support/queue"
#define DEST_SUPPORT_AGENTS "/topic/support/agents"
#define DEST_MY_NOTIFICATIONS "/user/queue/notifications" /* a user's own, as they subscribe it */
#define DEST_MY_PRESENCE "/user/queue/presence"           /* likewise */
#define DEST_APP_PRESENCE "/app/presence"                 /* SEND: one's own status */
#define DEST_APP_SUPPORT_OPEN "/app/support/open"         /* SEND: open one's support room */

enum dest_route {
    DEST_UNKNOWN = 0, /* no shape the server knows */
    DEST_APP,         /* SEND /app/...: a request to the server (rooms, session) */
    DEST_ROOMS,       /* SUBSCRIBE to the server's events: the rooms decide who may */
    DEST_SERVER_ONLY, /* SEND where the server publishes: refused, whatever the allow rules say */
    DEST_GENERIC,     /* /topic/X, /queue/X, /user/...: pub/sub, open where allow rules say */
};

/* Which prefix a client wrote a destination with: its kind and its index
 * in the kind's list of the configured prefixes. */
struct dest_alias {
    enum dest_prefix_kind kind;
    unsigned index;
};

/* The canonical name of a destination as a client wrote it (the prefix it
 * begins with replaced by its kind's canonical one), in a new string the
 * caller frees, and in *as the prefix the client used. NULL when no
 * configured prefix begins it (*nomem false: an unknown destination) or out
 * of memory (*nomem true). */
char *destination_canonical(const struct dest_prefixes *p, const char *client, struct dest_alias *as, bool *nomem);

/* A canonical name as a client that used prefix `index` of its kind
 * writes it: a new string (the caller frees it), NULL when out of memory.
 * A name of no kind, or an index past the kind's list, is copied as it
 * is. */
char *destination_client(const struct dest_prefixes *p, const char *canonical, unsigned index);

/* True when a client that used prefix `index` of canonical's kind writes
 * canonical as it is (that prefix is the canonical one). */
bool destination_client_is_canonical(const struct dest_prefixes *p, const char *canonical, unsigned index);

/* What a client's SEND (ACL_SEND) or SUBSCRIBE (ACL_SUBSCRIBE) to
 * `destination` means. */
enum dest_route destination_route(const char *destination, enum acl_action action);

/* A generic destination as the router knows it: SUBSCRIBE /user/queue/X
 * by `user` is /user/USER/queue/X, anything else is itself. A new string
 * (the caller frees it), NULL when out of memory. */
char *destination_resolve(const char *destination, enum acl_action action, const char *user);

/* The room a room destination names: "{prefix}{room}" or
 * "{prefix}{room}/{rest}" (prefix "/app/rooms/" or DEST_ROOM_TOPIC) with a
 * valid room id (rooms/room_rules.h), copied into room (len bytes, at
 * least ROOM_ID_MAX); *rest: what follows the slash, "" when nothing does.
 * false when destination is no such shape. */
bool destination_room_of(const char *destination, const char *prefix, char *room, size_t len, const char **rest);

/* The server's own destinations for a room and for a user's notifications,
 * into out (len bytes, truncated). */
void destination_room_topic(char *out, size_t len, const char *room);
/* A support room's internal notes: DEST_ROOM_TOPIC "{room}" DEST_NOTES_SUFFIX,
 * for the desk's readers only (rooms/notes.h). */
#define DEST_NOTES_SUFFIX "/notes"
void destination_notes_topic(char *out, size_t len, const char *room);
void destination_notifications_of(char *out, size_t len, const char *user);
void destination_presence_of(char *out, size_t len, const char *user);

/* True when the server publishes its events on `destination` (as the
 * router knows it: /user/USER/queue/notifications). */
bool destination_server_owned(const char *destination);

/* The kinds of server-owned destination an allow rule's pattern reaches,
 * named comma-separated into out ("/topic/rooms/{room}, ..."); how many. */
size_t destination_owned_reached(const char *pattern, char *out, size_t len);

/* Start-up: a warning line ("FILE: [stomp] KEY: ...") for each allow rule
 * whose send pattern reaches server-owned destinations, named under every
 * configured prefix. The rule stays valid for every other destination it
 * matches. */
void destinations_warn_acl(const struct acl *acl, const struct dest_prefixes *p, const struct config *cfg);

#endif
