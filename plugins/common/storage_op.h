/* What the queue-based storage plugins (sqlite, postgres) share: the kinds
 * of operation and how an answer reaches the caller's callback. Built into
 * each plugin that uses it. */
#ifndef CHATD_PLUGIN_STORAGE_OP_H
#define CHATD_PLUGIN_STORAGE_OP_H

#include <chatd/plugin.h>

enum op_kind { OP_CREATE, OP_GET, OP_LIST, OP_CLAIM, OP_COMPLETE, OP_DELETE, OP_MEMBER_ADD, OP_MEMBER_REMOVE,
               OP_APPEND, OP_HISTORY, OP_MARK, OP_GROUP,
               /* SDK 1.2: transcripts. */
               OP_CLOSE, OP_PURGE, OP_ERASE,
               /* SDK 2.2: edits and deletes. */
               OP_EDIT, OP_REVISIONS,
               /* SDK 2.3: the support desk. */
               OP_CLAIM_LIMITED, OP_TRANSFER, OP_REOPEN,
               /* SDK 2.5: reactions. */
               OP_REACT, OP_REACTIONS,
               /* SDK 2.6: ratings. */
               OP_RATE,
               /* SDK 2.4: search. */
               OP_SEARCH,
               /* SDK 2.8: canned replies. */
               OP_CANNED_PUT, OP_CANNED_DELETE, OP_CANNED_LIST,
               /* SDK 2.11: a purge that names its rooms. */
               OP_PURGE_IDS };

/* Call cb (of the type kind implies) with status st. Results go along only
 * where the SDK says they do: a room with OK, EXISTS and CONFLICT (and
 * DENIED, from group_change); lists and pages with OK; the stored message
 * with OK and EXISTS; a purge's count (n) with OK. Not for OP_ERASE:
 * storage_op_answer_erase, nor for OP_REACT and OP_REACTIONS: storage_op_answer_reactions,
 * nor for OP_CANNED_LIST: storage_op_answer_canned, nor for OP_PURGE_IDS:
 * storage_op_answer_ids. OP_CANNED_PUT's count
 * (n: 1 new, 0 replaced) goes along with OK. */
void storage_op_answer(enum op_kind kind, void *cb, void *ctx, chatd_status st, const struct chatd_room *rooms,
                       const struct chatd_message *msgs, size_t n);
/* OP_REACT's and OP_REACTIONS' answer: counts with OK, EXISTS and LIMIT. */
void storage_op_answer_reactions(void *cb, void *ctx, chatd_status st, const struct chatd_reaction_count *counts,
                                 size_t n);
/* OP_CANNED_LIST's answer: replies with OK. */
void storage_op_answer_canned(void *cb, void *ctx, chatd_status st, const struct chatd_canned_reply *replies,
                              size_t n);
/* OP_PURGE_IDS's answer: the ids with OK. */
void storage_op_answer_ids(void *cb, void *ctx, chatd_status st, const char *const *ids, size_t n);
/* room_page's answer (SDK 2.13, a history read that answers its room too):
 * the room and the page with OK, neither otherwise. */
void storage_op_answer_room_page(void *cb, void *ctx, chatd_status st, const struct chatd_room *room,
                                 const struct chatd_message *msgs, size_t n);
/* Code points in the UTF-8 text s (its bytes that start one). */
size_t storage_op_code_points(const char *s);

/* OP_ERASE's answer: res with OK only. */
void storage_op_answer_erase(void *cb, void *ctx, chatd_status st, const struct chatd_erase_result *res);

#endif
