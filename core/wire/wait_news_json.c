#include "wire/wait_news_json.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>

char *wait_news_encode(const char *instance, const struct wait_news *n)
{
    char kind[2] = {(char)n->kind, '\0'};
    json_t *j = json_pack("{s:s, s:s, s:s, s:s*, s:I, s:I}", "i", instance, "t", kind, "r", n->room, "c",
                          n->customer, "s", (json_int_t)n->since_ms, "a", (json_int_t)n->answered_ms);
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    return text;
}

static int copy(char *dst, size_t size, const char *s)
{
    size_t len = strlen(s);
    if (len >= size)
        return -1;
    memcpy(dst, s, len + 1);
    return 0;
}

int wait_news_decode(const void *data, size_t len, char *instance, size_t instance_len, struct wait_news *n,
                     struct wait_news_buf *storage)
{
    json_t *j = json_loadb(data, len, JSON_REJECT_DUPLICATES, NULL);
    const char *id, *kind, *room, *customer = NULL;
    json_int_t since = 0, answered = 0;
    int rc = -1;
    if (!j || json_unpack(j, "{s:s, s:s, s:s, s?s, s?I, s?I}", "i", &id, "t", &kind, "r", &room, "c", &customer,
                          "s", &since, "a", &answered) < 0)
        goto out;
    if (strlen(kind) != 1 ||
        (kind[0] != WAIT_BEGAN && kind[0] != WAIT_FLAGGED && kind[0] != WAIT_ENDED && kind[0] != WAIT_ASKED))
        goto out;
    if (copy(instance, instance_len, id) < 0 || copy(storage->room, sizeof storage->room, room) < 0 ||
        (customer && copy(storage->customer, sizeof storage->customer, customer) < 0) || since < 0 ||
        answered < 0)
        goto out;
    *n = (struct wait_news){.kind = (enum wait_news_kind)kind[0], .room = storage->room,
                            .customer = customer ? storage->customer : NULL, .since_ms = since,
                            .answered_ms = answered};
    rc = 0;
out:
    json_decref(j);
    return rc;
}
