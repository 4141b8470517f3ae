/* auth-csv: users, passwords and roles from a CSV file.
 *
 *   [auth]
 *   plugin = /path/to/auth_csv.so
 *   path   = /etc/chatd/users.csv
 *
 * One user per line, `user,password,roles`, where roles is `user`, `agent`
 * or both joined by `|` (`user|agent`). Blank lines and lines starting with
 * `#` are skipped. The password is everything between the first and the last
 * comma, so it may itself hold commas; the user name may not.
 *
 * An example, not a password store: the file holds passwords in plain text
 * (see README.md). What it does show: reading a file at init with every
 * error naming its line, answering through host->post because the answer is
 * at hand at once, and comparing secrets in constant time. */
#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L /* getline, strdup with -std=c17 */
#endif
#include <chatd/plugin.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Passwords live in fixed, zero-padded buffers so that every comparison
 * reads the same number of bytes whatever the password's length. */
#define PASSWORD_MAX 128

struct user {
    char *name;
    uint32_t roles;
    size_t password_len;
    unsigned char password[PASSWORD_MAX];
};

struct auth_csv {
    const struct chatd_host *host;
    struct user *users;
    size_t nusers;
    /* Compared against when the login is unknown, so that a wrong user name
     * costs what a wrong password costs. Its length never matches. */
    struct user nobody;
};

/* An answer waiting for the next loop turn. */
struct answer {
    chatd_auth_cb cb;
    void *ctx;
    chatd_status st;
    uint32_t roles;
    char user[]; /* the identity's user; empty when denied */
};

static void auth_csv_free(struct auth_csv *a)
{
    for (size_t i = 0; i < a->nusers; i++)
        free(a->users[i].name);
    free(a->users);
    free(a);
}

/* Roles `user`, `agent`, separated by `|`, spaces around each allowed.
 * 0 when the field names an unknown role or none at all. */
static uint32_t parse_roles(char *field)
{
    uint32_t roles = 0;
    for (char *save = NULL, *tok = strtok_r(field, "|", &save); tok; tok = strtok_r(NULL, "|", &save)) {
        tok += strspn(tok, " \t");
        size_t n = strlen(tok);
        while (n && (tok[n - 1] == ' ' || tok[n - 1] == '\t'))
            tok[--n] = '\0';
        if (strcmp(tok, "user") == 0)
            roles |= CHATD_ROLE_USER;
        else if (strcmp(tok, "agent") == 0)
            roles |= CHATD_ROLE_AGENT;
        else
            return 0;
    }
    return roles;
}

static struct user *find_user(struct auth_csv *a, const char *name)
{
    for (size_t i = 0; i < a->nusers; i++)
        if (strcmp(a->users[i].name, name) == 0)
            return &a->users[i];
    return NULL;
}

/* One line of the file, already stripped of its line ending. */
static chatd_status add_line(const struct chatd_host *h, struct auth_csv *a, const char *path, size_t lineno,
                             char *line)
{
    char *first = strchr(line, ','), *last = strrchr(line, ',');
    if (!first || first == last) {
        h->config_error(h, "path", "%s:%zu: expected user,password,roles", path, lineno);
        return CHATD_ERR_INVALID;
    }
    *first = *last = '\0';
    const char *name = line, *password = first + 1;
    size_t password_len = strlen(password);
    uint32_t roles = parse_roles(last + 1);
    if (!*name) {
        h->config_error(h, "path", "%s:%zu: empty user name", path, lineno);
        return CHATD_ERR_INVALID;
    }
    if (!password_len || password_len >= PASSWORD_MAX) {
        h->config_error(h, "path", "%s:%zu: the password must be 1 to %d bytes", path, lineno,
                        PASSWORD_MAX - 1);
        return CHATD_ERR_INVALID;
    }
    if (!roles) {
        h->config_error(h, "path", "%s:%zu: roles must be user, agent or user|agent", path, lineno);
        return CHATD_ERR_INVALID;
    }
    if (find_user(a, name)) {
        h->config_error(h, "path", "%s:%zu: user '%s' appears twice", path, lineno, name);
        return CHATD_ERR_INVALID;
    }
    struct user *users = realloc(a->users, (a->nusers + 1) * sizeof *users);
    if (!users)
        return CHATD_ERR_NOMEM;
    a->users = users;
    struct user *u = &users[a->nusers];
    memset(u, 0, sizeof *u);
    if (!(u->name = strdup(name)))
        return CHATD_ERR_NOMEM;
    u->roles = roles;
    u->password_len = password_len;
    memcpy(u->password, password, password_len);
    a->nusers++;
    return CHATD_OK;
}

static chatd_status csv_init(const struct chatd_host *h, void **state)
{
    const char *path = h->config_get(h, "path");
    if (!path || !*path) {
        h->config_error(h, "path", "required: the CSV file of users (user,password,roles)");
        return CHATD_ERR_INVALID;
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        h->config_error(h, "path", "cannot open '%s': %s", path, strerror(errno));
        return CHATD_ERR_INVALID;
    }
    struct auth_csv *a = calloc(1, sizeof *a);
    if (!a) {
        fclose(f);
        return CHATD_ERR_NOMEM;
    }
    a->host = h;
    a->nobody.password_len = PASSWORD_MAX;
    chatd_status st = CHATD_OK;
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    while (st == CHATD_OK && getline(&line, &cap, f) >= 0) {
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && line[0] != '#')
            st = add_line(h, a, path, lineno, line);
    }
    free(line);
    fclose(f);
    if (st == CHATD_OK && !a->nusers) {
        h->config_error(h, "path", "%s: no users", path);
        st = CHATD_ERR_INVALID;
    }
    if (st != CHATD_OK) {
        auth_csv_free(a);
        return st;
    }
    h->log(h, CHATD_LOG_INFO, "%zu users from %s", a->nusers, path);
    *state = a;
    return CHATD_OK;
}

static void csv_fini(void *state)
{
    auth_csv_free(state);
}

/* Constant time in the stored password: every call reads all PASSWORD_MAX
 * bytes, and what it learns is folded into `diff` without branching. The
 * time still grows with the length of `given`, which the client knows. */
static bool password_matches(const struct user *u, const char *given)
{
    unsigned char padded[PASSWORD_MAX] = {0};
    size_t given_len = strlen(given);
    memcpy(padded, given, given_len < PASSWORD_MAX ? given_len : PASSWORD_MAX);
    volatile unsigned char diff = 0;
    for (size_t i = 0; i < PASSWORD_MAX; i++)
        diff |= padded[i] ^ u->password[i];
    return (diff | (given_len != u->password_len)) == 0;
}

static void answer_run(void *arg)
{
    struct answer *ans = arg;
    if (ans->st == CHATD_OK) {
        struct chatd_identity who = {
#if CHATD_ABI_MAJOR >= 2
            .size = sizeof who, /* SDK 2; the same source builds against SDK 1.1 in tests/sdk */
#endif
            .user = ans->user,
            .roles = ans->roles,
        };
        ans->cb(ans->ctx, CHATD_OK, &who, NULL);
    } else {
        ans->cb(ans->ctx, ans->st, NULL, "bad credentials");
    }
    free(ans);
}

static void csv_authenticate(void *state, const struct chatd_credentials *cred, chatd_auth_cb cb, void *ctx)
{
    struct auth_csv *a = state;
    /* A bearer token or a passcode alone names nobody here. */
    const char *login = cred->login ? cred->login : "";
    const char *given = cred->passcode ? cred->passcode : "";
    const struct user *u = find_user(a, login);
    bool ok = password_matches(u ? u : &a->nobody, given) && u;
    size_t n = ok ? strlen(u->name) + 1 : 1;
    struct answer *ans = malloc(sizeof *ans + n);
    if (!ans) {
        a->host->log(a->host, CHATD_LOG_ERROR, "out of memory: login of '%s' left unanswered", login);
        return;
    }
    ans->cb = cb;
    ans->ctx = ctx;
    ans->st = ok ? CHATD_OK : CHATD_ERR_DENIED;
    ans->roles = ok ? u->roles : 0;
    memcpy(ans->user, ok ? u->name : "", n);
    /* The answer is known now, but cb must not run before we return. */
    if (a->host->post(a->host, answer_run, ans) != CHATD_OK)
        free(ans); /* shutting down: the host expects no answer any more */
}

static const struct chatd_auth_ops csv_ops = {
    .size = sizeof csv_ops,
    .authenticate = csv_authenticate,
};

CHATD_PLUGIN_DEFINE(.kind = CHATD_PLUGIN_AUTH, .name = "csv", .version = "1.0",
                    .description = "users, plain-text passwords and roles from a CSV file (example)",
                    .init = csv_init, .fini = csv_fini, .ops.auth = &csv_ops)
