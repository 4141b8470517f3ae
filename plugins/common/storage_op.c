#include "storage_op.h"

void storage_op_answer(enum op_kind kind, void *cb, void *ctx, chatd_status st, const struct chatd_room *rooms,
                       const struct chatd_message *msgs, size_t n)
{
    bool data = st == CHATD_OK || st == CHATD_ERR_EXISTS || st == CHATD_ERR_CONFLICT;
    switch (kind) {
    case OP_CREATE: case OP_GET: case OP_CLAIM: case OP_COMPLETE: case OP_CLOSE: case OP_RATE:
        ((chatd_room_cb)cb)(ctx, st, data ? rooms : NULL);
        break;
    case OP_GROUP:
        ((chatd_room_cb)cb)(ctx, st, data || st == CHATD_ERR_DENIED ? rooms : NULL);
        break;
    case OP_CLAIM_LIMITED: case OP_TRANSFER: case OP_REOPEN:
        ((chatd_room_cb)cb)(ctx, st, data || st == CHATD_ERR_LIMIT ? rooms : NULL);
        break;
    case OP_PURGE: case OP_CANNED_PUT:
        ((chatd_count_cb)cb)(ctx, st, st == CHATD_OK ? n : 0);
        break;
    case OP_ERASE:
        storage_op_answer_erase(cb, ctx, st == CHATD_OK ? CHATD_ERR_INTERNAL : st, NULL);
        break;
    case OP_REACT: case OP_REACTIONS:
        storage_op_answer_reactions(cb, ctx, st == CHATD_OK ? CHATD_ERR_INTERNAL : st, NULL, 0);
        break;
    case OP_CANNED_LIST:
        storage_op_answer_canned(cb, ctx, st == CHATD_OK ? CHATD_ERR_INTERNAL : st, NULL, 0);
        break;
    case OP_PURGE_IDS:
        storage_op_answer_ids(cb, ctx, st == CHATD_OK ? CHATD_ERR_INTERNAL : st, NULL, 0);
        break;
    case OP_LIST:
        ((chatd_rooms_cb)cb)(ctx, st, st == CHATD_OK ? rooms : NULL, st == CHATD_OK ? n : 0);
        break;
    case OP_APPEND: case OP_EDIT:
        ((chatd_message_cb)cb)(ctx, st, data && n ? msgs : NULL);
        break;
    case OP_HISTORY: case OP_REVISIONS: case OP_SEARCH:
        ((chatd_messages_cb)cb)(ctx, st, st == CHATD_OK ? msgs : NULL, st == CHATD_OK ? n : 0);
        break;
    default:
        ((chatd_done_cb)cb)(ctx, st);
    }
}

void storage_op_answer_reactions(void *cb, void *ctx, chatd_status st, const struct chatd_reaction_count *counts,
                                 size_t n)
{
    bool data = (st == CHATD_OK || st == CHATD_ERR_EXISTS || st == CHATD_ERR_LIMIT) && n;
    ((chatd_reactions_cb)cb)(ctx, st, data ? counts : NULL, data ? n : 0);
}

void storage_op_answer_canned(void *cb, void *ctx, chatd_status st, const struct chatd_canned_reply *replies,
                              size_t n)
{
    bool data = st == CHATD_OK && n;
    ((chatd_canned_cb)cb)(ctx, st, data ? replies : NULL, data ? n : 0);
}

void storage_op_answer_ids(void *cb, void *ctx, chatd_status st, const char *const *ids, size_t n)
{
    bool data = st == CHATD_OK && n && ids;
    ((chatd_ids_cb)cb)(ctx, st, data ? ids : NULL, data ? n : 0);
}

void storage_op_answer_room_page(void *cb, void *ctx, chatd_status st, const struct chatd_room *room,
                                 const struct chatd_message *msgs, size_t n)
{
    bool ok = st == CHATD_OK && room;
    ((chatd_room_page_cb)cb)(ctx, ok ? CHATD_OK : st == CHATD_OK ? CHATD_ERR_INTERNAL : st, ok ? room : NULL,
                             ok && n ? msgs : NULL, ok ? n : 0);
}

void storage_op_answer_erase(void *cb, void *ctx, chatd_status st, const struct chatd_erase_result *res)
{
    ((chatd_erase_cb)cb)(ctx, st, st == CHATD_OK ? res : NULL);
}

size_t storage_op_code_points(const char *s)
{
    size_t n = 0;
    for (; *s; s++)
        n += ((unsigned char)*s & 0xc0) != 0x80;
    return n;
}
