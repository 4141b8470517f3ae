/* POST /api/logout: the caller revokes the bearer token it sends (the auth
 * plugin's SDK 2.7 revoke), and this instance closes the sessions opened
 * with that token at once; other instances close theirs at their next
 * check of it ([stomp] token_recheck_interval). docs/rest-api.md. */
#ifndef CHATD_LOGOUT_REST_H
#define CHATD_LOGOUT_REST_H

struct rest_call;

/* For an authenticated call; answers the call itself: 204 once revoked,
 * 400 without a bearer token, 501 when the auth plugin cannot revoke,
 * 503 when its backend did not take it. */
void logout_rest(struct rest_call *c);

#endif
