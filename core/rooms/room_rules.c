#include "rooms/room_rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

/* A completed or closed support room keeps its history and takes no new
 * messages. */
bool room_read_only(const struct chatd_room *r)
{
    return r->state == CHATD_ROOM_COMPLETED || r->state == CHATD_ROOM_CLOSED;
}

/* When a CLOSED room was closed. Only a plugin of SDK 1.2 or later makes a
 * room CLOSED (room_close), and its struct has closed_ms: older plugins'
 * structs end before it, so it is never read from them. */
int64_t room_closed_ms(const struct chatd_room *r)
{
    return r->state == CHATD_ROOM_CLOSED ? r->closed_ms : 0;
}

bool room_is_member(const struct chatd_room *r, const char *user)
{
    for (size_t i = 0; i < r->nmembers; i++)
        if (strcmp(r->members[i], user) == 0)
            return true;
    return false;
}

/* Who may see a room at all: its members, agents an unassigned support
 * room (the queue), supervisors every support room. Others get 404, so ids
 * cannot be probed. */
bool room_can_see(const struct chatd_room *r, const char *user, uint32_t roles)
{
    return room_is_member(r, user) ||
           ((roles & CHATD_ROLE_AGENT) && r->kind == CHATD_ROOM_SUPPORT && r->state == CHATD_ROOM_OPEN) ||
           ((roles & CHATD_ROLE_SUPERVISOR) && r->kind == CHATD_ROOM_SUPPORT);
}

bool room_can_watch(const struct chatd_room *r, const char *user, uint32_t roles)
{
    return room_is_member(r, user) || ((roles & CHATD_ROLE_SUPERVISOR) && r->kind == CHATD_ROOM_SUPPORT);
}

/* Room ids are random: 16 bytes of the kernel's randomness, hex. */
void room_new_id(char out[40])
{
    unsigned char b[12];
    if (getrandom(b, sizeof b, 0) != (ssize_t)sizeof b)
        for (size_t i = 0; i < sizeof b; i++)
            b[i] = (unsigned char)rand();
    out[0] = 'r';
    for (size_t i = 0; i < sizeof b; i++)
        snprintf(out + 1 + 2 * i, 3, "%02x", b[i]);
}

bool room_valid_id(const char *id, size_t len)
{
    if (len == 0 || len >= ROOM_ID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((id[i] >= 'a' && id[i] <= 'z') || (id[i] >= '0' && id[i] <= '9') || id[i] == '-' || id[i] == '_'))
            return false;
    return true;
}

/* A message whose sender's data was erased (user_erase): its sender is "". */
bool message_erased(const struct chatd_message *m)
{
    return !m->sender || !*m->sender;
}
