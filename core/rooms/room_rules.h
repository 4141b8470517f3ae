/* What a room allows, as plain rules over the storage's records: who may
 * see a room, whether it takes messages, what a room id looks like. No
 * I/O, no JSON, no protocol: the REST and STOMP adapters of the rooms and
 * their unit tests share them. */
#ifndef CHATD_ROOM_RULES_H
#define CHATD_ROOM_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <chatd/plugin.h>

/* Why a visitor (visitor_token.h) is kept out of a direct or group room:
 * a visitor is only ever a member of its own support rooms. */
#define VISITORS_SUPPORT_ONLY "visitors take part in support rooms only"

/* Room ids are shorter than this. */
#define ROOM_ID_MAX 64
/* Bytes of a user name a request may name. */
#define USER_NAME_MAX 255

/* A completed or closed support room keeps its history and takes no new
 * messages. */
bool room_read_only(const struct chatd_room *r);
/* When a CLOSED room was closed, else 0. */
int64_t room_closed_ms(const struct chatd_room *r);
/* The roles that read the support desk (the queue, the agents, the
 * support rooms' lists): agents and supervisors. */
#define DESK_READERS (CHATD_ROLE_AGENT | CHATD_ROLE_SUPERVISOR)

bool room_is_member(const struct chatd_room *r, const char *user);
/* Who may see a room at all: its members, agents an unassigned support
 * room (the queue), supervisors every support room. Others are told it
 * does not exist. */
bool room_can_see(const struct chatd_room *r, const char *user, uint32_t roles);
/* Who may watch a room's events (SUBSCRIBE): its members, and supervisors
 * every support room. */
bool room_can_watch(const struct chatd_room *r, const char *user, uint32_t roles);
/* A new random room id ("r" and 24 hex digits). */
void room_new_id(char out[40]);
/* Whether id[0..len) can be a room id: 1 to ROOM_ID_MAX - 1 of a-z 0-9 - _. */
bool room_valid_id(const char *id, size_t len);
/* A message whose sender's data was erased (user_erase): its sender is "". */
bool message_erased(const struct chatd_message *m);

#endif
