/* POST /api/visitors: an anonymous website visitor gets an identity and a
 * token chatd signs itself ([visitors], docs/visitors.md). Answered
 * without the auth plugin: no credentials, or the visitor's own token to
 * renew it. Limited per client address ([visitors] max_per_ip_per_hour)
 * and to the origins [server] allowed_origins admits. */
#ifndef CHATD_VISITORS_REST_H
#define CHATD_VISITORS_REST_H

struct rest_call;

/* Answers and frees c. */
void visitors_rest(struct rest_call *c);

#endif
