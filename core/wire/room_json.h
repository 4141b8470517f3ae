/* Rooms and messages as clients see them in JSON: REST answers, event
 * bodies and in-band notifications write them with these. */
#ifndef CHATD_ROOM_JSON_H
#define CHATD_ROOM_JSON_H

#include <jansson.h>

#include <chatd/plugin.h>

struct jsonw;

const char *room_kind_name(chatd_room_kind k);
/* A message's kind as clients read it: "text", "file", "system". */
const char *room_message_kind_name(chatd_message_kind k);
const char *room_state_name(const struct chatd_room *r);
/* A new JSON object (the caller owns the reference), NULL when out of
 * memory. room_json: for_user set adds that user's read_seq, unread and
 * the last message. */
json_t *room_message_json(const struct chatd_message *m);
/* The same object as room_message_json's, written as text (the history
 * page's hot path); tests/unit/room_json_test.c holds the two equal. */
void room_message_jsonw(struct jsonw *w, const struct chatd_message *m);
/* The same with a member "reactions": [{"emoji","count","me"}] of
 * counts[0..n) (the message's, in their order); a deleted or erased
 * message's is [] whatever the storage holds. */
void room_message_jsonw_reacted(struct jsonw *w, const struct chatd_message *m,
                                const struct chatd_reaction_count *counts, size_t n);
/* counts[0..n) as that array, a new JSON value (NULL: out of memory);
 * with_me: each with its "me". */
json_t *room_reactions_json(const struct chatd_reaction_count *counts, size_t n, bool with_me);
json_t *room_json(const struct chatd_room *r, const char *for_user);

#endif
