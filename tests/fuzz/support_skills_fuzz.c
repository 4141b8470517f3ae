/* Fuzz [support] skills and support room topics (core/support_skills.h).
 * A topic accepted is 1 to 32 bytes of a-z, 0-9, '-', '_'; every refusal
 * comes with a sentence. Skills accepted name each agent once, without
 * white space, ',' or ':', each with 1 or more topics that are topics,
 * none twice, and every one of them matches its agent; a refusal leaves
 * nothing behind and says why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "support_skills.h"

static void check_topic(const char *s, size_t n)
{
    const char *why = NULL;
    if (support_topic_valid(s, n, &why)) {
        if (n == 0 || n > SUPPORT_TOPIC_MAX)
            abort();
        for (size_t i = 0; i < n; i++)
            if (!strchr("abcdefghijklmnopqrstuvwxyz0123456789-_", s[i]) || !s[i])
                abort();
    } else if (!why || !*why) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    check_topic((const char *)data, size);
    char *text = malloc(size + 1);
    if (!text)
        return 0;
    memcpy(text, data, size);
    text[size] = '\0';
    struct support_skills s;
    char why[300] = "";
    if (support_skills_parse(text, &s, why, sizeof why) == 0) {
        for (size_t i = 0; i < s.n; i++) {
            const struct agent_skills *a = &s.v[i];
            if (!a->agent[0] || strpbrk(a->agent, " \t\r\n,:;") || a->ntopics == 0)
                abort();
            for (size_t k = 0; k < i; k++)
                if (strcmp(s.v[k].agent, a->agent) == 0)
                    abort();
            for (size_t t = 0; t < a->ntopics; t++) {
                const char *topic_why = NULL;
                if (!support_topic_valid(a->topics[t], strlen(a->topics[t]), &topic_why) ||
                    !support_skills_match(&s, a->agent, a->topics[t]) || !support_skills_known(&s, a->topics[t]))
                    abort();
                for (size_t u = 0; u < t; u++)
                    if (strcmp(a->topics[u], a->topics[t]) == 0)
                        abort();
            }
        }
        support_skills_free(&s);
    } else if (!why[0] || s.n || s.v) {
        abort();
    }
    free(text);
    return 0;
}
