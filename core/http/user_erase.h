/* DELETE /api/users/{user}: erase one user's data for a privacy request.
 * Admins only; the storage plugin decides it atomically (user_erase in
 * chatd/plugin.h). What is erased and what stays: docs/rest-api.md. */
#ifndef CHATD_USER_ERASE_H
#define CHATD_USER_ERASE_H

struct rest_call;

/* An authenticated DELETE /api/users/{user}: answers it. */
void user_erase_rest(struct rest_call *c, const char *user);

#endif
