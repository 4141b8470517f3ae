#include "rooms/group_roles.h"

#include <string.h>

static bool listed(const char *const *v, size_t n, const char *user)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(v[i], user) == 0)
            return true;
    return false;
}

chatd_member_role group_role_of(const struct chatd_room *r, const char *user)
{
    if (!user || !listed(r->members, r->nmembers, user))
        return CHATD_MEMBER_NONE;
    if (r->owner && strcmp(r->owner, user) == 0)
        return CHATD_MEMBER_OWNER;
    if (listed(r->admins, r->nadmins, user))
        return CHATD_MEMBER_ADMIN;
    return CHATD_MEMBER_PLAIN;
}

const char *group_role_name(chatd_member_role role)
{
    switch (role) {
    case CHATD_MEMBER_OWNER: return "owner";
    case CHATD_MEMBER_ADMIN: return "admin";
    case CHATD_MEMBER_PLAIN: return "member";
    case CHATD_MEMBER_NONE: break;
    }
    return NULL;
}

bool group_role_parse(const char *name, chatd_member_role *out)
{
    static const chatd_member_role roles[] = {CHATD_MEMBER_OWNER, CHATD_MEMBER_ADMIN, CHATD_MEMBER_PLAIN};
    for (size_t i = 0; name && i < sizeof roles / sizeof *roles; i++) {
        if (strcmp(name, group_role_name(roles[i])) == 0) {
            *out = roles[i];
            return true;
        }
    }
    return false;
}

static enum group_verdict allow(struct chatd_group_change *ch, const char *actor, chatd_member_role min, bool outrank)
{
    ch->actor = actor;
    ch->actor_min = min;
    ch->outrank = outrank;
    return GROUP_ALLOWED;
}

static enum group_verdict refuse(const char **why, const char *rule)
{
    *why = rule;
    return GROUP_FORBIDDEN;
}

enum group_verdict group_check(const struct chatd_room *r, const char *actor, struct chatd_group_change *ch,
                               const char **why)
{
    chatd_member_role a = group_role_of(r, actor), u = group_role_of(r, ch->user);
    bool manager = a >= CHATD_MEMBER_ADMIN;
    *why = NULL;
    switch (ch->what) {
    case CHATD_GROUP_ADD:
        if (!manager)
            return refuse(why, "only the group's owner and admins add members");
        if (u != CHATD_MEMBER_NONE) {
            *why = "already a member";
            return GROUP_UNCHANGED;
        }
        return allow(ch, actor, CHATD_MEMBER_ADMIN, false);
    case CHATD_GROUP_REMOVE:
        if (ch->user && actor && strcmp(ch->user, actor) == 0 && u != CHATD_MEMBER_NONE) {
            ch->actor = NULL; /* leaving is every member's right */
            return GROUP_ALLOWED;
        }
        if (!manager)
            return refuse(why, "only the group's owner and admins remove members");
        if (u == CHATD_MEMBER_OWNER)
            return refuse(why, "nobody removes the group's owner: the owner leaves or hands ownership over");
        if (u == CHATD_MEMBER_ADMIN && a != CHATD_MEMBER_OWNER)
            return refuse(why, "only the group's owner removes an admin");
        if (u == CHATD_MEMBER_NONE) {
            *why = "not a member of this group";
            return GROUP_NOT_MEMBER;
        }
        return allow(ch, actor, CHATD_MEMBER_ADMIN, true);
    case CHATD_GROUP_ROLE:
        if (ch->role == CHATD_MEMBER_OWNER) {
            if (a != CHATD_MEMBER_OWNER)
                return refuse(why, "only the group's owner hands ownership over");
        } else {
            if (!manager)
                return refuse(why, "only the group's owner and admins change roles");
            if (u == CHATD_MEMBER_OWNER) {
                *why = "the owner's role changes only when the owner hands ownership over";
                return GROUP_OWNER_ROLE;
            }
            if (u == CHATD_MEMBER_ADMIN && ch->role != CHATD_MEMBER_ADMIN && a != CHATD_MEMBER_OWNER)
                return refuse(why, "only the group's owner demotes an admin");
        }
        if (u == CHATD_MEMBER_NONE) {
            *why = "not a member of this group";
            return GROUP_NOT_MEMBER;
        }
        if (u == ch->role) {
            *why = "already has that role";
            return GROUP_UNCHANGED;
        }
        if (ch->role == CHATD_MEMBER_OWNER)
            return allow(ch, actor, CHATD_MEMBER_OWNER, false);
        return allow(ch, actor, CHATD_MEMBER_ADMIN, true);
    case CHATD_GROUP_RENAME:
        if (!manager)
            return refuse(why, "only the group's owner and admins rename the group");
        return allow(ch, actor, CHATD_MEMBER_ADMIN, false);
    case CHATD_GROUP_DELETE:
        if (!manager)
            return refuse(why, "only the group's owner and admins delete the group");
        return allow(ch, actor, CHATD_MEMBER_ADMIN, false);
    }
    return refuse(why, "unknown change");
}
