/* Fuzz what storage-redis reads from Redis: RESP replies (hiredis' reader),
 * then each as a room (decode_room: the 12 fields of the scripts' room
 * arrays) and, for strings, as an encoded message (decode_message: its
 * header of five numbers and the lengths it gives), at every level of an
 * array. The plugin's source is included to reach its static decoders. */
#include "../../plugins/storage-redis/storage_redis.c"

static void exercise(const redisReply *r, int depth)
{
    struct roombuf room;
    if (decode_room(r, &room))
        roombuf_free(&room);
    struct msgbuf msg;
    if (copy_message(r, "fuzz-room", &msg))
        free(msg.block);
    if (r->type == REDIS_REPLY_ARRAY && depth < 3)
        for (size_t i = 0; i < r->elements; i++)
            exercise(r->element[i], depth + 1);
}

/* hiredis allocates an array's element pointers at the count the reply
 * announces ("*685477581"), before any element has come: chatd trusts its
 * Redis that far, and such inputs would only measure malloc. */
static bool announces_huge_array(const uint8_t *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if (data[i] != '*')
            continue;
        unsigned long long n = 0;
        for (size_t j = i + 1; j < size && data[j] >= '0' && data[j] <= '9'; j++)
            if ((n = n * 10 + (data[j] - '0')) > 4096)
                return true;
    }
    return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (announces_huge_array(data, size))
        return 0;
    redisReader *rd = redisReaderCreate();
    if (!rd)
        return 0;
    redisReaderFeed(rd, (const char *)data, size);
    void *reply = NULL;
    while (redisReaderGetReply(rd, &reply) == REDIS_OK && reply) {
        exercise(reply, 0);
        freeReplyObject(reply);
        reply = NULL;
    }
    redisReaderFree(rd);
    return 0;
}
