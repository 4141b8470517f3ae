#include "wire/agent_json.h"

#include "rooms/availability.h"
#include "support_skills.h"

json_t *agent_json(const struct agent_view *a, const struct support_skills *skills)
{
    size_t n;
    const char *const *topics = support_skills_of(skills, a->name, &n);
    json_t *list = json_array();
    for (size_t i = 0; list && i < n; i++)
        if (json_array_append_new(list, json_string(topics[i])) != 0) {
            json_decref(list);
            return NULL;
        }
    return list ? json_pack("{s:s, s:s, s:I, s:o}", "user", a->name, "status", agent_status_name(a->status),
                            "open_chats", (json_int_t)a->open, "skills", list)
                : NULL;
}
