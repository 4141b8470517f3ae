/* Presence: which users are connected, and who watches which room, on this
 * instance and on every other instance sharing the broker.
 *
 * Each instance publishes its own changes (deltas, batched per loop turn)
 * and, every [server] presence_interval and whenever the broker comes back, a full
 * snapshot on an internal broker channel no client can name. An instance
 * not heard of for three intervals is forgotten. The notification decision
 * (in-band, offline, or none) reads this table, so it is made once, by the
 * instance that stored the message, for users anywhere.
 *
 * Clients' presence rides on the same channel: a delta says when a
 * user's last session on that instance ended ("ls"), a snapshot answering
 * a hello says every last-seen time the sender knows ("seen"). Kept in
 * memory only: a restart of every instance forgets them. */
#ifndef CHATD_PRESENCE_H
#define CHATD_PRESENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rooms/presence_status.h"

struct server;
struct presence;

/* The internal channel: not a STOMP destination (no leading '/'). */
#define PRESENCE_CHANNEL "chatd.presence"

struct presence *presence_new(struct server *srv);
void presence_free(struct presence *p);
/* Subscribe the channel and say hello (others answer with snapshots). */
void presence_start(struct presence *p);
/* The broker is back: whatever we published meanwhile was lost. */
void presence_broker_ready(struct presence *p);

/* Local changes: +1/-1 per session (user) or per subscription (watch). */
void presence_user(struct presence *p, const char *user, int delta);
void presence_watch(struct presence *p, const char *user, const char *room, int delta);

/* Agents (docs/support-desk.md): +1/-1 per session of a user with the
 * agent role; their own choice to be away, kept by this instance while the
 * agent is online anywhere (an agent offline everywhere is no longer away).
 * Choosing online here ends an away kept by any instance. */
void presence_agent(struct presence *p, const char *user, int delta);
void presence_set_away(struct presence *p, const char *user, bool away);
bool presence_away(const struct presence *p, const char *user);
/* Every agent heard of since start, online or not, anywhere: fn once per
 * name, in no particular order. */
void presence_each_agent(const struct presence *p, void (*fn)(void *ctx, const char *agent), void *ctx);
/* Called (on the core thread, after the change is applied) whenever an
 * agent connects or goes, goes away or comes back, here or elsewhere. */
void presence_on_agents(struct presence *p, void (*fn)(void *ctx), void *ctx);
/* Whether this instance is the one that routes support rooms: the
 * smallest instance id among itself and the instances it hears of. */
bool presence_is_leader(const struct presence *p);
/* Ask the routing instance for a pass now (the next delta says so: "rq");
 * on every other instance, fn(ctx) of presence_on_route_request is
 * called when one asks. */
void presence_ask_route(struct presence *p);
void presence_on_route_request(struct presence *p, void (*fn)(void *ctx), void *ctx);

/* Anyone's own choice to be away (rooms/user_presence.h), kept like an
 * agent's: presence_set_away is this for an agent, who the desk then
 * lists. */
void presence_set_user_away(struct presence *p, const char *user, bool away);

/* Clients' presence (rooms/presence_status.h): the status as told and,
 * offline, when the last session ended anywhere (0: unknown). */
enum user_status presence_user_status(const struct presence *p, const char *user, int64_t *last_seen_ms);
/* Called (core thread) when this instance tells a user's status: it made
 * the change (a session of the user came or went here, the user chose
 * here, the offline grace it started ended), or, as leader, it saw an
 * instance go with the user's sessions. */
void presence_on_status(struct presence *p,
                        void (*fn)(void *ctx, const char *user, enum user_status status, int64_t last_seen_ms),
                        void *ctx);

/* Anywhere in the cluster, this instance included. */
bool presence_online(const struct presence *p, const char *user);
bool presence_watching(const struct presence *p, const char *user, const char *room);

/* An event on PRESENCE_CHANNEL (host->deliver). */
void presence_deliver(struct presence *p, const void *data, size_t len);

/* What this instance knows of the others (metrics). */
struct presence_stats {
    size_t peers;          /* other instances heard of */
    size_t remote_users;   /* users online there, summed over instances */
    size_t remote_watches; /* (user, room) subscriptions there, summed */
    size_t known_users;    /* users whose status or last_seen is kept */
};
void presence_stats(const struct presence *p, struct presence_stats *out);

#endif
