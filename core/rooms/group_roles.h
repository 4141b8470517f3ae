/* Group roles: who may change what in a group room (docs/rest-api.md,
 * "Group roles"). Pure rules over a room as storage showed it; no I/O. The
 * storage decides again, atomically, with the condition they set. */
#ifndef CHATD_GROUP_ROLES_H
#define CHATD_GROUP_ROLES_H

#include <chatd/plugin.h>

/* user's role in r: OWNER for the owner (while a member), ADMIN for one of
 * r->admins, PLAIN for another member, NONE for anyone else. */
chatd_member_role group_role_of(const struct chatd_room *r, const char *user);

/* "owner", "admin", "member"; NULL for NONE. */
const char *group_role_name(chatd_member_role role);
/* The role a name gives (the names above); false for any other. */
bool group_role_parse(const char *name, chatd_member_role *out);

enum group_verdict {
    GROUP_ALLOWED,    /* go ahead: ch's condition is set */
    GROUP_FORBIDDEN,  /* the actor lacks the right */
    GROUP_NOT_MEMBER, /* the change is about someone who is not a member */
    GROUP_OWNER_ROLE, /* the owner's role changes only as ownership moves */
    GROUP_UNCHANGED,  /* already so: nothing to do */
};

/* Whether `actor` may make the change ch describes (what, user, role) in
 * the group r. GROUP_ALLOWED sets ch's condition (actor, actor_min,
 * outrank) for the storage to check again; a user removing themselves
 * (leaving) needs no right and gets no condition. Otherwise *why is the
 * rule that refuses it, one sentence for the client. */
enum group_verdict group_check(const struct chatd_room *r, const char *actor, struct chatd_group_change *ch,
                               const char **why);

#endif
