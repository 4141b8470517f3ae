/* An admin erases what the storage holds of one user (a privacy request):
 * their support rooms go, their messages elsewhere become tombstones, and
 * the rooms they lost end their subscriptions. docs/rest-api.md. */
#ifndef CHATD_ERASE_H
#define CHATD_ERASE_H

#include <stdint.h>

#include "rooms/rooms.h"

/* res: what the storage did (OK only). */
typedef void (*erase_answer_cb)(void *ctx, const struct room_answer *a, const struct chatd_erase_result *res);
/* `admin` (roles) erases `user`: NOT_FOUND for a name that can be no
 * user's, FORBIDDEN without CHATD_ROLE_ADMIN, NOT_SUPPORTED when the
 * storage cannot erase; OK with the counts once done, logged for the
 * audit trail. */
void erase_user(struct rooms *r, const char *user, const char *admin, uint32_t roles, erase_answer_cb cb, void *ctx);

#endif
