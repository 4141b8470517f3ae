/* The rooms domain (core/rooms/) without sockets: its operations against
 * the real storage-memory plugin, loaded by the loader through the storage
 * port, on a private event loop driven until each answer arrives; its
 * events recorded by an events port of the test's own, presence a table. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include <chatd/plugin.h>

#include "clock.h"
#include "config.h"
#include "metrics.h"
#include "plugins/loader.h"
#include "plugins/plugin_host.h"
#include "plugins/storage_port.h"
#include "rooms/erase.h"
#include "rooms/first_response.h"
#include "rooms/group_changes.h"
#include "rooms/history.h"
#include "wire/message_body_json.h"
#include "rooms/membership.h"
#include "rooms/message_edits.h"
#include "rooms/reactions.h"
#include "rooms/room_rules.h"
#include "rooms/messages.h"
#include "rooms/notes.h"
#include "rooms/read_marks.h"
#include "rooms/rooms.h"
#include "rooms/queue_position.h"
#include "rooms/room_rules.h"
#include "support_skills.h"
#include "rooms/rating.h"
#include "rooms/canned_replies.h"
#include "rooms/routing.h"
#include "rooms/search.h"
#include "rooms/support.h"
#include "rooms/transcript.h"
#include "rooms/transfer.h"
#include "rooms/typing.h"
#include "rooms/user_presence.h"
#include "server.h"

#define KOREAN "안녕하세요 😀"

/* ---------------------------------------------------------- the fixture */

struct fixture {
    struct server srv;
    struct config *cfg;
    struct rooms rooms;
    struct metrics metrics;
    /* The events port's record: one line per event. */
    char events[64][160];
    size_t nevents;
    /* Presence: who is online, who watches which room ("user room"). */
    const char *online[8];
    char watching[8][100];
    /* The support desk: agents heard of, and who of them is away. */
    const char *agents[8];
    const char *away[8];
    /* Clients' presence: who is away by their choice (users), and a
     * last-seen time every offline user has. */
    const char *users_away[8];
};

#define LAST_SEEN 1700000000123LL

static struct fixture *F;

static void record(const char *fmt, ...)
{
    if (F->nevents == 64)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(F->events[F->nevents++], sizeof F->events[0], fmt, ap);
    va_end(ap);
}

/* How many recorded events start with prefix. */
static size_t count_events(const char *prefix)
{
    size_t n = 0;
    for (size_t i = 0; i < F->nevents; i++)
        n += strncmp(F->events[i], prefix, strlen(prefix)) == 0;
    return n;
}

static bool has_event(const char *line)
{
    for (size_t i = 0; i < F->nevents; i++)
        if (strcmp(F->events[i], line) == 0)
            return true;
    return false;
}

static void on_opened(void *c, const struct chatd_room *r) { (void)c, record("opened %s", r->id); }
static void on_added(void *c, const char *u, const char *id, const struct chatd_room *r)
{
    (void)c, (void)r, record("added %s %s", u, id);
}
static void on_claimed(void *c, const struct chatd_room *r) { (void)c, record("claimed %s %s", r->id, r->agent); }
static void on_completed(void *c, const struct chatd_room *r) { (void)c, record("completed %s", r->id); }
static void on_closed(void *c, const char *id, const char *by, const struct chatd_room *r)
{
    (void)c, record("closed %s by %s %s", id, by, r ? "kept" : "deleted");
}
static void on_joined(void *c, const char *id, const char *u, const char *by)
{
    (void)c, record("joined %s %s by %s", id, u, by);
}
static void on_left(void *c, const char *id, const char *u, const char *by, bool erased)
{
    (void)c, record("left %s %s by %s%s", id, u, by ? by : "-", erased ? " erased" : "");
}
static void on_role(void *c, const char *id, const char *u, chatd_member_role role, const char *by)
{
    (void)c, record("role %s %s %d by %s", id, u, (int)role, by);
}
static void on_renamed(void *c, const char *id, const char *t, const char *by)
{
    (void)c, record("renamed %s %s by %s", id, t, by);
}
static void on_deleted(void *c, const char *id, const char *by, bool erased)
{
    (void)c, record("deleted %s by %s%s", id, by ? by : "-", erased ? " erased" : "");
}
static void on_read(void *c, const char *id, const char *u, uint64_t seq, uint64_t unread)
{
    (void)c, record("read %s %s %llu unread %llu", id, u, (unsigned long long)seq, (unsigned long long)unread);
}
static void on_typing(void *c, const char *id, const char *u) { (void)c, record("typing %s %s", id, u); }
/* The content types of the last message event: the argument, the message's. */
static char event_ct[64], event_msg_ct[64];

static void on_message(void *c, const struct chatd_message *m, const char *ct, const char *trace, uint64_t origin)
{
    (void)c;
    snprintf(event_ct, sizeof event_ct, "%s", ct ? ct : "(null)");
    snprintf(event_msg_ct, sizeof event_msg_ct, "%s", m->content_type ? m->content_type : "(null)");
    record("message %s %llu %s trace %s origin %llu", m->room, (unsigned long long)m->seq, m->sender,
           trace ? trace : "-", (unsigned long long)origin);
}
static void on_changed(void *c, const struct chatd_message *m, const char *by, const char *trace, uint64_t origin)
{
    (void)c;
    record("%s %s %llu rev %llu by %s trace %s origin %llu", m->deleted ? "deleted-message" : "edited", m->room,
           (unsigned long long)m->seq, (unsigned long long)m->rev, by, trace ? trace : "-",
           (unsigned long long)origin);
}
static void on_reaction(void *c, const char *room, uint64_t seq, const char *emoji, const char *user, bool added,
                        const struct chatd_reaction_count *counts, size_t n)
{
    (void)c;
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += counts[i].count;
    record("reaction %s %llu %s %s %s kinds %zu total %llu", room, (unsigned long long)seq, emoji, user,
           added ? "added" : "removed", n, (unsigned long long)total);
}
static void on_notice(void *c, const struct chatd_room *r, const struct chatd_message *m, const char *member,
                      const char *preview)
{
    (void)c, (void)r;
    record("notice %s %llu %s", member, (unsigned long long)m->seq, preview);
}
static void on_offline(void *c, const struct chatd_room *r, const struct chatd_message *m, const char *member,
                       const char *text, size_t len, const char *preview)
{
    (void)c, (void)r, (void)text, (void)len;
    record("offline %s %llu %s", member, (unsigned long long)m->seq, preview);
}
static void on_failed(void *c, const char *member, const char *id, const char *ev, const char *why)
{
    (void)c, record("failed %s %s %s %s", member, id, ev, why);
}

static void on_agent_status(void *c, const char *agent, const char *status)
{
    (void)c, record("agent %s %s", agent, status);
}
static void on_position(void *c, const char *customer, const char *id, size_t position, long long wait_ms)
{
    (void)c, (void)id, record("position %s %zu %lld", customer, position, wait_ms);
}

static void on_transferred(void *c, const struct chatd_room *r, const char *from, const char *by, const char *note)
{
    (void)c, record("transferred %s %s -> %s by %s note %s", r->id, from, r->agent ? r->agent : "queue", by,
                    note ? note : "-");
}
static void on_reopened(void *c, const struct chatd_room *r)
{
    (void)c, record("reopened %s %s", r->id, r->agent ? r->agent : "queue");
}
static void on_rated(void *c, const struct chatd_room *r)
{
    (void)c, record("rated %s %u", r->id, r->rating);
}
static void on_note(void *c, const struct chatd_message *m, const char *trace, uint64_t origin)
{
    (void)c, (void)trace, (void)origin;
    record("note %s %llu %s %.*s", m->room, (unsigned long long)m->seq, m->sender, (int)m->body_len, m->body);
}

static void on_presence(void *c, const char *to, const char *user, enum user_status st, int64_t last_seen)
{
    (void)c, record("presence to %s: %s %s %lld", to, user, user_status_name(st), (long long)last_seen);
}

static bool sla_told; /* an sla_breached event came */
static void on_sla_breached(void *c, const char *id, const char *customer, int64_t since, long long target)
{
    (void)c, (void)since;
    sla_told = true;
    record("sla %s %s %lld", id, customer, target);
}

static bool is_online(const void *c, const char *user)
{
    (void)c;
    for (size_t i = 0; i < 8 && F->online[i]; i++)
        if (strcmp(F->online[i], user) == 0)
            return true;
    return false;
}

static bool is_watching(const void *c, const char *user, const char *room)
{
    (void)c;
    char key[100];
    snprintf(key, sizeof key, "%s %s", user, room);
    for (size_t i = 0; i < 8 && F->watching[i][0]; i++)
        if (strcmp(F->watching[i], key) == 0)
            return true;
    return false;
}

static bool listed_in(const char *const *list, const char *user)
{
    for (size_t i = 0; i < 8 && list[i]; i++)
        if (strcmp(list[i], user) == 0)
            return true;
    return false;
}

static bool is_away(const void *c, const char *user) { return (void)c, listed_in(F->away, user); }

static enum user_status user_status_of(const void *c, const char *user, int64_t *last_seen)
{
    (void)c;
    *last_seen = 0;
    if (!is_online(c, user)) {
        *last_seen = LAST_SEEN;
        return USER_OFFLINE;
    }
    return listed_in(F->users_away, user) ? USER_AWAY : USER_ONLINE;
}

static void set_user_away(const void *c, const char *user, bool away)
{
    (void)c, record("user %s %s", user, away ? "away" : "back");
}

static void each_agent(const void *c, void (*fn)(void *fctx, const char *agent), void *fctx)
{
    (void)c;
    for (size_t i = 0; i < 8 && F->agents[i]; i++)
        fn(fctx, F->agents[i]);
}

static int setup(void **state)
{
    F = calloc(1, sizeof *F);
    assert_non_null(F);
    char err[512], ini[512];
    snprintf(ini, sizeof ini, "[storage]\nplugin = %s/storage_memory.so\n", CHATD_PLUGIN_OUTPUT_DIR);
    assert_int_equal(config_load_string(&F->cfg, "test.ini", ini, err, sizeof err), 0);
    F->srv.config = F->cfg;
    F->srv.base = event_base_new();
    assert_non_null(F->srv.base);
    F->srv.tasks = tasks_new(F->srv.base);
    assert_non_null(F->srv.tasks);
    F->srv.storage = plugin_load(&F->srv, F->cfg, "storage", CHATD_PLUGIN_STORAGE, err, sizeof err);
    if (!F->srv.storage)
        fail_msg("%s", err);
    F->rooms = (struct rooms){
        .storage = F->srv.storage,
        .events = {.opened = on_opened, .added = on_added, .claimed = on_claimed, .completed = on_completed,
                   .closed = on_closed, .member_joined = on_joined, .member_left = on_left,
                   .role_changed = on_role, .renamed = on_renamed, .deleted = on_deleted, .read = on_read,
                   .typing = on_typing, .message = on_message, .message_changed = on_changed,
                   .reaction = on_reaction, .message_notice = on_notice,
                   .message_offline = on_offline, .notice_failed = on_failed, .agent_status = on_agent_status,
                   .queue_position = on_position, .transferred = on_transferred, .reopened = on_reopened,
                   .sla_breached = on_sla_breached, .rated = on_rated, .presence = on_presence,
                   .note = on_note},
        .presence = {.online = is_online, .watching = is_watching, .away = is_away, .each_agent = each_agent,
                     .status = user_status_of, .set_user_away = set_user_away},
        .preview_chars = 80,
        .bodies = &message_body_json,
        .metrics = &F->metrics,
        .edit_window_ms = 15 * 60000,
    };
    *state = F;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    routing_close(F->rooms.routing);
    first_response_close(F->rooms.first_response);
    tasks_close(F->srv.tasks);
    plugin_unload(F->srv.storage);
    routing_free(F->rooms.routing);
    first_response_free(F->rooms.first_response);
    availability_free(F->rooms.availability);
    tasks_free(F->srv.tasks);
    event_base_free(F->srv.base);
    config_free(F->cfg);
    free(F);
    F = NULL;
    return 0;
}

/* Run the loop until *done (no sleeps: the plugin's answers are events). */
static void run_until(const bool *done)
{
    for (int i = 0; !*done && i < 100000; i++)
        event_base_loop(F->srv.base, EVLOOP_ONCE);
    assert_true(*done);
}

/* ------------------------------------------------- answers, as awaited */

struct got {
    bool done;
    enum room_status status;
    char why[300];
    bool has_room;
    char id[64], agent[64], owner[64], topic[40];
    chatd_room_state state;
    uint64_t last_seq, read_seq, seq;
    size_t n;
    enum room_leaving how;
    /* a page */
    uint64_t seqs[128];
    char bodies[128][64];
    char types[128][40]; /* content_type, "(null)" when none */
    uint64_t replies[128];
    chatd_message_kind kinds[128];
    uint64_t next_before;
    char reactions[512]; /* a page's: "seq emoji count me;" each */
    bool kept;
    char next_cursor[SEARCH_CURSOR_MAX];
    char rooms_of[128][64]; /* a search's: each message's room */
    bool more;
    struct chatd_erase_result erased;
};

static void take_answer(struct got *g, const struct room_answer *a)
{
    g->done = true;
    g->status = a->status;
    snprintf(g->why, sizeof g->why, "%s", a->why ? a->why : "");
}

static void got_room(void *ctx, const struct room_answer *a, const struct chatd_room *room)
{
    struct got *g = ctx;
    take_answer(g, a);
    if ((g->has_room = room != NULL)) {
        snprintf(g->id, sizeof g->id, "%s", room->id);
        snprintf(g->agent, sizeof g->agent, "%s", room->agent ? room->agent : "");
        snprintf(g->owner, sizeof g->owner, "%s", room->owner ? room->owner : "");
        snprintf(g->topic, sizeof g->topic, "%s", room->topic ? room->topic : "");
        g->state = room->state;
        g->last_seq = room->last_seq;
        g->read_seq = room->read_seq;
    }
}

static void got_rooms(void *ctx, const struct room_answer *a, const struct chatd_room *rooms, size_t n)
{
    struct got *g = ctx;
    take_answer(g, a);
    g->n = n;
    if (n) {
        snprintf(g->id, sizeof g->id, "%s", rooms[0].id);
        g->read_seq = rooms[0].read_seq;
    }
}

static void got_done(void *ctx, const struct room_answer *a) { take_answer(ctx, a); }

static void got_left(void *ctx, const struct room_answer *a, enum room_leaving how)
{
    struct got *g = ctx;
    take_answer(g, a);
    g->how = how;
}

static void got_mark(void *ctx, const struct room_answer *a, uint64_t seq)
{
    struct got *g = ctx;
    take_answer(g, a);
    g->seq = seq;
}

static void keep_messages(struct got *g, const struct chatd_message *msgs, size_t n)
{
    g->n = n;
    for (size_t i = 0; i < n && i < 128; i++) {
        g->seqs[i] = msgs[i].seq;
        snprintf(g->bodies[i], sizeof g->bodies[i], "%.*s", (int)msgs[i].body_len, msgs[i].body);
        snprintf(g->types[i], sizeof g->types[i], "%s", msgs[i].content_type ? msgs[i].content_type : "(null)");
        g->replies[i] = msgs[i].reply_to;
        g->kinds[i] = msgs[i].kind;
    }
}

static void keep_counts(struct got *g, const struct chatd_reaction_count *c, size_t n)
{
    size_t w = 0;
    g->reactions[0] = '\0';
    for (size_t i = 0; i < n && w < sizeof g->reactions; i++)
        w += (size_t)snprintf(g->reactions + w, sizeof g->reactions - w, "%llu %s %llu%s;",
                              (unsigned long long)c[i].seq, c[i].emoji, (unsigned long long)c[i].count,
                              c[i].me ? " me" : "");
}

static void got_page(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                     uint64_t next_before, const struct reaction_page *rx)
{
    struct got *g = ctx;
    take_answer(g, a);
    keep_messages(g, msgs, n);
    g->next_before = next_before;
    g->kept = rx->kept;
    keep_counts(g, rx->counts, rx->n);
}

static void got_reacted(void *ctx, const struct room_answer *a, const struct chatd_reaction_count *c, size_t n)
{
    struct got *g = ctx;
    take_answer(g, a);
    g->n = n;
    keep_counts(g, c, n);
}

static void got_replay(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n, bool more)
{
    struct got *g = ctx;
    take_answer(g, a);
    keep_messages(g, msgs, n);
    g->more = more;
}

static void got_message(void *ctx, const struct room_answer *a, const struct chatd_message *m)
{
    struct got *g = ctx;
    take_answer(g, a);
    g->seq = m ? m->seq : 0;
}

static void got_erased(void *ctx, const struct room_answer *a, const struct chatd_erase_result *res)
{
    struct got *g = ctx;
    take_answer(g, a);
    if (res)
        g->erased = *res;
}

#define AWAIT(call, g)        \
    do {                      \
        memset(&(g), 0, sizeof(g)); \
        call;                 \
        run_until(&(g).done); \
    } while (0)

static const uint32_t USER = CHATD_ROLE_USER, AGENT = CHATD_ROLE_AGENT | CHATD_ROLE_USER;

/* A group of `owner` with the members given (NULL-terminated); its id in out. */
static void make_group(const char *owner, const char *const *members, char out[64])
{
    size_t n = 0;
    while (members[n])
        n++;
    struct got g;
    AWAIT(membership_create_group(&F->rooms, owner, "팀 채팅 😀", members, n, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    snprintf(out, 64, "%s", g.id);
}

/* A room message, all the way: admitted, appended, published. Its status;
 * *seq the stored seq. */
static uint64_t next_reply_to; /* the reply_to of the next send_typed */

static enum room_status send_typed(const char *room, const char *sender, const char *content_type, const char *text,
                                   uint64_t *seq)
{
    char why[256];
    struct message_send *ms;
    struct message_draft d = {.room_id = room, .sender = sender, .body = text, .body_len = strlen(text),
                              .content_type = content_type, .trace = "tr-1", .origin = 7,
                              .reply_to = next_reply_to};
    next_reply_to = 0;
    enum room_status st = message_send_new(&F->rooms, &d, &ms, why, sizeof why);
    if (st != ROOM_OK)
        return st;
    struct got g;
    AWAIT(message_send_admit(ms, got_done, &g), g);
    if (g.status != ROOM_OK) {
        message_send_free(ms);
        return g.status;
    }
    AWAIT(message_send_append(ms, got_message, &g), g);
    if (g.status != ROOM_OK) {
        message_send_free(ms);
        return g.status;
    }
    if (seq)
        *seq = g.seq;
    AWAIT(message_send_publish(ms, got_done, &g), g);
    message_send_free(ms);
    return g.status;
}

static enum room_status send_text(const char *room, const char *sender, const char *text, uint64_t *seq)
{
    return send_typed(room, sender, "text/plain", text, seq);
}

/* An edit or delete as a member asks it; its status, the message's rev in
 * g->seq's stead (g->last_seq), its body in g->bodies[0]. */
static void got_change(void *ctx, const struct room_answer *a, const struct chatd_message *m)
{
    struct got *g = ctx;
    take_answer(g, a);
    if (m) {
        g->seq = m->seq;
        g->last_seq = m->rev;
        g->n = m->deleted;
        snprintf(g->bodies[0], sizeof g->bodies[0], "%.*s", (int)m->body_len, m->body ? m->body : "");
    }
}

static enum room_status change_as(const char *room, const char *user, uint32_t roles, uint64_t seq,
                                  chatd_message_edit_kind what, const char *body, struct got *g)
{
    struct message_change_request req = {.room_id = room, .user = user, .roles = roles, .seq = seq, .what = what,
                                         .body = body, .body_len = body ? strlen(body) : 0, .trace = "tr-e",
                                         .origin = 9};
    AWAIT(message_change(&F->rooms, &req, got_change, g), *g);
    return g->status;
}

static enum room_status react_as(const char *room, const char *user, uint64_t seq, const char *emoji, bool add,
                                 struct got *g)
{
    struct reaction_request req = {.room_id = room, .user = user, .seq = seq, .emoji = emoji,
                                   .emoji_len = strlen(emoji), .add = add, .trace = "tr-r"};
    AWAIT(reaction_change(&F->rooms, &req, got_reacted, g), *g);
    return g->status;
}

/* ---------------------------------------------------------------- tests */

/* Members react; twice is once and tells nothing; history carries the
 * counts with `me` for its reader; refusals for non-members, a deleted
 * message, an emoji that is none, the 21st different emoji. */
static void reactions_of_members(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", "carol", NULL}, room);
    uint64_t s1, s2;
    assert_int_equal(send_text(room, "bob", KOREAN, &s1), ROOM_OK);
    assert_int_equal(send_text(room, "bob", "second", &s2), ROOM_OK);
    struct got g;
    F->nevents = 0;
    assert_int_equal(react_as(room, "alice", s1, "👍🏽", true, &g), ROOM_OK);
    assert_string_equal(g.reactions, "1 👍🏽 1 me;");
    char line[160];
    snprintf(line, sizeof line, "reaction %s %llu 👍🏽 alice added kinds 1 total 1", room, (unsigned long long)s1);
    assert_true(has_event(line));
    assert_int_equal(react_as(room, "alice", s1, "👍🏽", true, &g), ROOM_OK); /* held: nothing told */
    assert_int_equal(count_events("reaction "), 1);
    assert_int_equal(react_as(room, "bob", s1, "👍🏽", true, &g), ROOM_OK);
    assert_int_equal(react_as(room, "carol", s1, "👨‍👩‍👧", true, &g), ROOM_OK);
    assert_int_equal(react_as(room, "carol", s2, "❤️", true, &g), ROOM_OK);
    assert_int_equal(react_as(room, "carol", s2, "1️⃣", true, &g), ROOM_OK);
    assert_int_equal(react_as(room, "carol", s2, "1️⃣", false, &g), ROOM_OK);
    assert_int_equal(count_events("reaction "), 6);
    /* History: the counts of each message, `me` for the reader. */
    struct history_cursor from = {.after_set = true, .after = 0};
    AWAIT(history_page(&F->rooms, room, "alice", USER, &from, got_page, &g), g);
    assert_true(g.kept);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.bodies[0], KOREAN);
    assert_string_equal(g.reactions, "1 👍🏽 2 me;1 👨‍👩‍👧 1;2 ❤️ 1;");
    /* Refusals. */
    assert_int_equal(react_as(room, "mallory", s1, "👍🏽", true, &g), ROOM_NOT_FOUND);
    assert_string_equal(g.why, "no such room");
    assert_int_equal(react_as(room, "bob", 99, "👍🏽", true, &g), ROOM_NOT_FOUND);
    assert_string_equal(g.why, "no such message");
    assert_int_equal(react_as(room, "bob", 0, "👍🏽", true, &g), ROOM_BAD_REQUEST);
    static const char *const bad[] = {"", "hi", "+1", "👍 ", " 👍", "\xf0\x9f\x91", "\xe2\x80\x8d😀", "😀\n",
                                      "😀😀😀😀😀😀😀😀😀" /* 36 bytes */};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        assert_int_equal(react_as(room, "bob", s1, bad[i], true, &g), ROOM_BAD_REQUEST);
        assert_true(g.why[0] != '\0');
    }
    assert_int_equal(change_as(room, "bob", USER, s2, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_OK);
    assert_int_equal(react_as(room, "alice", s2, "👍🏽", true, &g), ROOM_CONFLICT);
    /* A deleted message's counts are gone from history. */
    AWAIT(history_page(&F->rooms, room, "alice", USER, &from, got_page, &g), g);
    assert_int_equal(g.n, 2);
    /* 20 different emoji on one message, not 21. */
    uint64_t s3;
    assert_int_equal(send_text(room, "bob", "react to me", &s3), ROOM_OK);
    for (int i = 0; i < REACTIONS_PER_MESSAGE; i++) {
        char e[8] = "\xf0\x9f\x98\x80";
        e[3] = (char)(0x80 + i); /* 😀 😁 😂 ... */
        assert_int_equal(react_as(room, "alice", s3, e, true, &g), ROOM_OK);
    }
    assert_int_equal(react_as(room, "bob", s3, "🎉", true, &g), ROOM_LIMIT);
    assert_int_equal(react_as(room, "bob", s3, "😀", true, &g), ROOM_OK); /* a held one still joins */
}

/* The rules alone: the emoji's shape; who reacts in which room. */
static void reaction_rules(void **state)
{
    (void)state;
    static const char *const good[] = {"👍", "👍🏽", "👨‍👩‍👧", "❤️", "1️⃣", "#️⃣", "🇰🇷", "한", "©"};
    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        assert_null(reaction_emoji_refusal(good[i], strlen(good[i])));
    assert_non_null(reaction_emoji_refusal("1", 1));
    assert_non_null(reaction_emoji_refusal("\xef\xb8\x8f", 3)); /* a lone variation selector */
    assert_non_null(reaction_emoji_refusal("😀\xe2\x80\x8b", 7)); /* a zero-width space */
    assert_non_null(reaction_emoji_refusal("😀\0", 5));
    const char *members[] = {"cust", "agent1", "agent0"};
    struct chatd_room support = {.kind = CHATD_ROOM_SUPPORT, .state = CHATD_ROOM_ASSIGNED, .owner = "cust",
                                 .agent = "agent1", .members = members, .nmembers = 3};
    bool room_state;
    assert_null(reaction_refusal(&support, "cust", &room_state));
    assert_null(reaction_refusal(&support, "agent1", &room_state));
    assert_non_null(reaction_refusal(&support, "agent0", &room_state)); /* an earlier agent still a member */
    assert_false(room_state);
    support.state = CHATD_ROOM_COMPLETED;
    assert_non_null(reaction_refusal(&support, "cust", &room_state));
    assert_true(room_state);
    support.state = CHATD_ROOM_CLOSED;
    assert_non_null(reaction_refusal(&support, "agent1", &room_state));
    struct chatd_room direct = {.kind = CHATD_ROOM_DIRECT, .state = CHATD_ROOM_OPEN, .owner = "a"};
    assert_null(reaction_refusal(&direct, "b", &room_state));
}

/* The sender edits and deletes their own message; others may not edit it,
 * a group's owner and admins delete any; a deleted message takes no more
 * changes; history keeps it at its seq; the changes come back in rev order. */
static void message_edits_and_deletes(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", "carol", NULL}, room);
    uint64_t s1, s2, s3;
    assert_int_equal(send_text(room, "bob", "first", &s1), ROOM_OK);
    assert_int_equal(send_text(room, "bob", "second", &s2), ROOM_OK);
    assert_int_equal(send_text(room, "carol", "third", &s3), ROOM_OK);
    struct got g;
    F->nevents = 0;
    assert_int_equal(change_as(room, "bob", USER, s1, CHATD_MESSAGE_EDIT, "수정 " KOREAN, &g), ROOM_OK);
    assert_int_equal(g.seq, s1);
    assert_int_equal(g.last_seq, 1); /* the room's first change */
    assert_string_equal(g.bodies[0], "수정 " KOREAN);
    char line[160];
    snprintf(line, sizeof line, "edited %s %llu rev 1 by bob trace tr-e origin 9", room, (unsigned long long)s1);
    assert_true(has_event(line));
    /* Not theirs: carol may not edit bob's, nor delete it (a plain member). */
    assert_int_equal(change_as(room, "carol", USER, s1, CHATD_MESSAGE_EDIT, "mine now", &g), ROOM_FORBIDDEN);
    assert_int_equal(change_as(room, "carol", USER, s2, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_FORBIDDEN);
    /* An agent's role is no right in a group. */
    assert_int_equal(change_as(room, "carol", AGENT, s2, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_FORBIDDEN);
    /* Not a member; no such message; seq 0; a body that is no message. */
    assert_int_equal(change_as(room, "mallory", USER, s1, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_NOT_FOUND);
    assert_string_equal(g.why, "no such room");
    assert_int_equal(change_as(room, "bob", USER, 99, CHATD_MESSAGE_EDIT, "x", &g), ROOM_NOT_FOUND);
    assert_string_equal(g.why, "no such message");
    assert_int_equal(change_as(room, "bob", USER, 0, CHATD_MESSAGE_EDIT, "x", &g), ROOM_BAD_REQUEST);
    assert_int_equal(change_as(room, "bob", USER, s1, CHATD_MESSAGE_EDIT, "bad\xff", &g), ROOM_BAD_REQUEST);
    assert_int_equal(change_as("rnosuchroom", "bob", USER, s1, CHATD_MESSAGE_EDIT, "x", &g), ROOM_NOT_FOUND);
    /* The owner deletes anyone's message; a tombstone takes no more. */
    assert_int_equal(change_as(room, "alice", USER, s3, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.last_seq, 2);
    assert_string_equal(g.bodies[0], "");
    snprintf(line, sizeof line, "deleted-message %s %llu rev 2 by alice trace tr-e origin 9", room,
             (unsigned long long)s3);
    assert_true(has_event(line));
    assert_int_equal(change_as(room, "carol", USER, s3, CHATD_MESSAGE_EDIT, "back", &g), ROOM_CONFLICT);
    assert_int_equal(change_as(room, "alice", USER, s3, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_CONFLICT);
    /* The sender deletes their own. */
    assert_int_equal(change_as(room, "bob", USER, s2, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_OK);
    assert_int_equal(g.last_seq, 3);
    /* History: every seq still there, the latest text, tombstones empty. */
    struct history_cursor from = {.after_set = true, .after = 0};
    AWAIT(history_page(&F->rooms, room, "carol", USER, &from, got_page, &g), g);
    assert_int_equal(g.n, 3);
    assert_string_equal(g.bodies[0], "수정 " KOREAN);
    assert_string_equal(g.bodies[1], "");
    assert_string_equal(g.bodies[2], "");
    /* The room's last_seq and unread count are the messages', not the changes'. */
    AWAIT(rooms_look_up(&F->rooms, room, "carol", got_room, &g), g);
    assert_int_equal(g.last_seq, s3);
    /* The changes after rev 1, in rev order: s3 (rev 2), then s2 (rev 3). */
    AWAIT(message_revisions_page(&F->rooms, room, 1, got_replay, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.seqs[0], s3);
    assert_int_equal(g.seqs[1], s2);
    assert_false(g.more);
}

/* The edit window: the sender's right ends with it (the rule, at given
 * times); with [rooms] edit_window = 0 nobody edits, managers still delete;
 * an agent deletes in a support room; a read-only room keeps its messages. */
static void message_edit_window_and_managers(void **state)
{
    (void)state;
    struct chatd_message m = {.sender = "bob", .ts_ms = 1000000};
    long long w = 60000;
    assert_null(message_change_refusal(&m, "bob", false, CHATD_MESSAGE_EDIT, 1000000 + w, w));
    assert_non_null(message_change_refusal(&m, "bob", false, CHATD_MESSAGE_EDIT, 1000000 + w + 1, w));
    assert_non_null(message_change_refusal(&m, "bob", false, CHATD_MESSAGE_DELETE, 1000000 + w + 1, w));
    assert_null(message_change_refusal(&m, "alice", true, CHATD_MESSAGE_DELETE, 1000000 + w + 1, w));
    assert_non_null(message_change_refusal(&m, "alice", true, CHATD_MESSAGE_EDIT, 1000000, w));
    assert_non_null(message_change_refusal(&m, "bob", false, CHATD_MESSAGE_EDIT, 1000000, 0));
    struct chatd_message erased = {.sender = "", .ts_ms = 1000000};
    assert_non_null(message_change_refusal(&erased, "", false, CHATD_MESSAGE_EDIT, 1000000, w));

    char room[64];
    make_group("alice", (const char *[]){"bob", NULL}, room);
    uint64_t s1;
    assert_int_equal(send_text(room, "bob", "hello", &s1), ROOM_OK);
    F->rooms.edit_window_ms = 0;
    struct got g;
    assert_int_equal(change_as(room, "bob", USER, s1, CHATD_MESSAGE_EDIT, "changed", &g), ROOM_FORBIDDEN);
    assert_int_equal(change_as(room, "bob", USER, s1, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_FORBIDDEN);
    assert_int_equal(change_as(room, "alice", USER, s1, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_OK);
    F->rooms.edit_window_ms = 15 * 60000;

    /* A support room: its agent deletes the customer's message; the room
     * completed, nothing changes any more. */
    AWAIT(support_open(&F->rooms, "cust", NULL, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    char support[64];
    snprintf(support, sizeof support, "%s", g.id);
    AWAIT(support_claim(&F->rooms, support, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    uint64_t c1, c2;
    assert_int_equal(send_text(support, "cust", "card 1234", &c1), ROOM_OK);
    assert_int_equal(send_text(support, "cust", "thanks", &c2), ROOM_OK);
    assert_int_equal(change_as(support, "agent1", AGENT, c1, CHATD_MESSAGE_DELETE, NULL, &g), ROOM_OK);
    assert_int_equal(change_as(support, "agent1", AGENT, c2, CHATD_MESSAGE_EDIT, "no", &g), ROOM_FORBIDDEN);
    AWAIT(support_complete(&F->rooms, support, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(change_as(support, "cust", USER, c2, CHATD_MESSAGE_EDIT, "later", &g), ROOM_CONFLICT);
}

/* A reply names a message of its room: 1..last_seq; the reply is stored
 * with it, kind text. */
static void reply_to_validated(void **state)
{
    (void)state;
    char room[64], other[64];
    make_group("alice", (const char *[]){"bob", NULL}, room);
    make_group("alice", (const char *[]){"bob", NULL}, other);
    next_reply_to = 1;
    assert_int_equal(send_text(room, "bob", KOREAN, NULL), ROOM_BAD_REQUEST); /* no message yet */
    assert_int_equal(send_text(room, "bob", KOREAN, NULL), ROOM_OK);
    next_reply_to = 1;
    assert_int_equal(send_text(room, "alice", "re: " KOREAN, NULL), ROOM_OK);
    next_reply_to = 3;
    assert_int_equal(send_text(room, "alice", "ahead", NULL), ROOM_BAD_REQUEST);
    next_reply_to = 1;
    assert_int_equal(send_text(other, "alice", "elsewhere", NULL), ROOM_BAD_REQUEST);
    struct got g;
    struct history_cursor from = {.after_set = true, .after = 0};
    AWAIT(history_page(&F->rooms, room, "alice", USER, &from, got_page, &g), g);
    assert_int_equal(g.n, 2);
    assert_int_equal(g.replies[0], 0);
    assert_int_equal(g.replies[1], 1);
    assert_int_equal(g.kinds[1], CHATD_MESSAGE_TEXT);
}

/* A message's content type: the SEND's own, else the one its body is taken
 * for; the same in the message event and in history. */
static void content_types_stored(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", NULL}, room);
    static const struct {
        const char *sent, *body, *want;
    } cases[] = {
        {NULL, KOREAN, "text/plain;charset=utf-8"},
        {NULL, "{\"text\":\"" KOREAN "\"}", "application/json"},
        {"", " {\"text\":\"x\"}", "application/json"},
        {"application/json", "{\"text\":\"x\"}", "application/json"},
        {"text/plain; charset=UTF-8", "{\"text\":\"x\"}", "text/plain; charset=UTF-8"},
    };
    size_t n = sizeof cases / sizeof cases[0];
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(send_typed(room, "bob", cases[i].sent, cases[i].body, NULL), ROOM_OK);
        assert_string_equal(event_ct, cases[i].want);
        assert_string_equal(event_msg_ct, cases[i].want);
    }
    struct got g;
    struct history_cursor from = {.after_set = true, .after = 0};
    AWAIT(history_page(&F->rooms, room, "alice", USER, &from, got_page, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, n);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(g.types[i], cases[i].want);
        assert_string_equal(g.bodies[i], cases[i].body);
    }
}


static void open_for(const char *customer, char out[64]);

static enum room_status transfer_as(const char *room, const char *user, uint32_t roles, const char *to,
                                    const char *note, struct got *g)
{
    struct transfer_request req = {.room_id = room, .user = user, .roles = roles, .to = to, .note = note,
                                   .note_len = note ? strlen(note) : 0};
    AWAIT(support_transfer(&F->rooms, &req, got_room, g), *g);
    return g->status;
}

/* An assigned room handed to another agent, then back to the queue; every
 * refusal; the customer reads a system message, history stays whole. */
static void support_transfers(void **state)
{
    (void)state;
    F->agents[0] = "agent1", F->agents[1] = "상담원😀", F->agents[2] = "agent3";
    F->online[0] = "agent1", F->online[1] = "상담원😀", F->online[2] = "고객"; /* agent3 offline */
    char room[64];
    open_for("고객", room);
    struct got g;
    assert_int_equal(transfer_as(room, "agent1", AGENT, "상담원😀", NULL, &g), ROOM_CONFLICT); /* queued */
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(send_text(room, "고객", KOREAN, NULL), ROOM_OK);
    /* Refusals: a customer, an agent not assigned (no member: not found),
     * no such agent, an offline one, the agent it has, a long note. */
    assert_int_equal(transfer_as(room, "고객", USER, "상담원😀", NULL, &g), ROOM_FORBIDDEN);
    assert_int_equal(transfer_as(room, "상담원😀", AGENT, "agent3", NULL, &g), ROOM_CONFLICT);
    assert_string_equal(g.why, "that agent is offline");
    assert_int_equal(transfer_as(room, "상담원😀", AGENT, "agent1", NULL, &g), ROOM_NOT_FOUND);
    assert_int_equal(transfer_as(room, "agent1", AGENT, "bob", NULL, &g), ROOM_NOT_FOUND);
    assert_string_equal(g.why, "no such agent");
    assert_int_equal(transfer_as(room, "agent1", AGENT, "agent1", NULL, &g), ROOM_BAD_REQUEST);
    char long_note[TRANSFER_NOTE_MAX + 2];
    memset(long_note, 'x', sizeof long_note - 1);
    long_note[sizeof long_note - 1] = '\0';
    assert_int_equal(transfer_as(room, "agent1", AGENT, "상담원😀", long_note, &g), ROOM_BAD_REQUEST);
    assert_int_equal(transfer_as(room, "agent1", AGENT, "상담원😀", "\xff\xfe", &g), ROOM_BAD_REQUEST);
    assert_int_equal(count_events("transferred"), 0);

    /* To another agent, with a Korean and emoji note. */
    F->nevents = 0;
    assert_int_equal(transfer_as(room, "agent1", AGENT, "상담원😀", "환불 문의 😀", &g), ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_ASSIGNED);
    assert_string_equal(g.agent, "상담원😀");
    char line[400];
    snprintf(line, sizeof line, "transferred %s agent1 -> 상담원😀 by agent1 note 환불 문의 😀", room);
    assert_true(has_event(line));
    snprintf(line, sizeof line, "message %s 2 agent1 trace sys:%s:2 origin 0", room, room);
    assert_true(has_event(line));
    /* The customer watches nothing here: a notice, without the note. */
    assert_int_equal(count_events("notice 고객 2 agent1 passed this chat on to 상담원😀."), 1);
    /* agent1 is no member now; the new agent is. */
    assert_int_equal(transfer_as(room, "agent1", AGENT, NULL, NULL, &g), ROOM_NOT_FOUND);
    struct history_cursor from = {.after_set = true, .after = 0};
    AWAIT(history_page(&F->rooms, room, "상담원😀", AGENT, &from, got_page, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.bodies[0], KOREAN);
    assert_int_equal(g.kinds[0], CHATD_MESSAGE_TEXT);
    assert_int_equal(g.kinds[1], CHATD_MESSAGE_SYSTEM);
    assert_string_equal(g.bodies[1], "agent1 passed this chat on to 상담원😀.");

    /* Back to the queue: open, nobody's; an agent claims it again. */
    assert_int_equal(transfer_as(room, "상담원😀", AGENT, NULL, NULL, &g), ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_OPEN);
    assert_string_equal(g.agent, "");
    AWAIT(support_queue(&F->rooms, "agent3", AGENT, false, got_rooms, &g), g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.id, room);
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    /* An admin hands on a room that is not theirs. */
    assert_int_equal(transfer_as(room, "감독", CHATD_ROLE_ADMIN | AGENT, "상담원😀", NULL, &g), ROOM_OK);
    assert_string_equal(g.agent, "상담원😀");
    /* Completed, closed, no support room: refused. */
    AWAIT(support_complete(&F->rooms, room, "상담원😀", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(transfer_as(room, "상담원😀", AGENT, "agent1", NULL, &g), ROOM_CONFLICT);
    assert_string_equal(g.why, "the room is completed");
    char grp[64];
    make_group("agent1", (const char *[]){"bob", NULL}, grp);
    assert_int_equal(transfer_as(grp, "agent1", AGENT, "상담원😀", NULL, &g), ROOM_BAD_REQUEST);
}

/* Internal notes: the desk writes and reads them, the customer neither;
 * they are no messages of the room (its seqs, history, watchers). A
 * supervisor reads and hands on a room that is not theirs. */
static void got_note(void *ctx, const struct room_answer *a, const struct chatd_message *note)
{
    struct got *g = ctx;
    take_answer(g, a);
    g->seq = note ? note->seq : 0;
    if (note)
        snprintf(g->id, sizeof g->id, "%s", note->room);
}

static void got_notes(void *ctx, const struct room_answer *a, const struct chatd_message *notes, size_t n,
                      uint64_t next_before)
{
    struct got *g = ctx;
    take_answer(g, a);
    keep_messages(g, notes, n);
    g->next_before = next_before;
    if (n)
        snprintf(g->id, sizeof g->id, "%s", notes[0].room);
}

static void got_watch(void *ctx, const struct room_answer *a, uint64_t last_seq)
{
    struct got *g = ctx;
    take_answer(g, a);
    g->last_seq = last_seq;
}

static enum room_status note_as(const char *room, const char *user, uint32_t roles, const char *body, struct got *g)
{
    struct note_draft d = {.room_id = room, .author = user, .roles = roles, .body = body, .body_len = strlen(body)};
    AWAIT(note_post(&F->rooms, &d, got_note, g), *g);
    return g->status;
}

static void internal_notes(void **state)
{
    (void)state;
    const uint32_t SUPERVISOR = CHATD_ROLE_SUPERVISOR;
    F->agents[0] = "agent1", F->agents[1] = "agent2";
    F->online[0] = "agent1", F->online[1] = "agent2";
    char room[64];
    open_for("고객", room);
    struct got g;
    /* While it waits: any agent, a supervisor; never the customer. */
    assert_int_equal(note_as(room, "고객", USER, "메모", &g), ROOM_FORBIDDEN);
    assert_string_equal(g.why, "only agents and supervisors read and write internal notes");
    assert_int_equal(note_as(room, "agent2", AGENT, "", &g), ROOM_BAD_REQUEST);
    F->nevents = 0;
    assert_int_equal(note_as(room, "agent2", AGENT, "대기 중 메모 😀", &g), ROOM_OK);
    assert_int_equal(g.seq, 1);
    assert_string_equal(g.id, room);
    char line[300];
    snprintf(line, sizeof line, "note %s 1 agent2 대기 중 메모 😀", room);
    assert_true(has_event(line));
    assert_int_equal(count_events("message"), 0);
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(send_text(room, "고객", KOREAN, NULL), ROOM_OK);
    /* Assigned: its agent and a supervisor; another agent no more. */
    assert_int_equal(note_as(room, "agent2", AGENT, "x", &g), ROOM_NOT_FOUND);
    assert_int_equal(note_as(room, "agent1", AGENT, "VIP 고객 🔒", &g), ROOM_OK);
    assert_int_equal(g.seq, 2);
    assert_int_equal(note_as(room, "감독", SUPERVISOR, "확인 🧭", &g), ROOM_OK);
    assert_int_equal(g.seq, 3);
    /* The room's own messages: one, seq 1, no note among them. */
    AWAIT(membership_show(&F->rooms, room, "고객", USER, got_room, &g), g);
    assert_int_equal(g.last_seq, 1);
    struct history_cursor top = {0};
    AWAIT(history_page(&F->rooms, room, "고객", USER, &top, got_page, &g), g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.bodies[0], KOREAN);
    /* The notes, paged for the desk, refused to the customer. */
    struct history_cursor one = {.limit_set = true, .limit = 2};
    AWAIT(notes_page(&F->rooms, room, "감독", SUPERVISOR, &one, got_notes, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.bodies[0], "확인 🧭");
    assert_string_equal(g.bodies[1], "VIP 고객 🔒");
    assert_string_equal(g.id, room);
    assert_int_equal(g.next_before, 2);
    struct history_cursor older = {.before_set = true, .before = 2};
    AWAIT(notes_page(&F->rooms, room, "agent1", AGENT, &older, got_notes, &g), g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.next_before, 0);
    AWAIT(notes_page(&F->rooms, room, "고객", USER, &top, got_notes, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(notes_watch(&F->rooms, room, "고객", USER | AGENT, got_watch, &g), g); /* its customer, an agent too */
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    AWAIT(notes_watch(&F->rooms, room, "감독", SUPERVISOR, got_watch, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.last_seq, 3);
    AWAIT(notes_replay_page(&F->rooms, room, 1, got_replay, &g), g);
    assert_int_equal(g.n, 2);
    /* A room without notes: an empty page, watched from 0. */
    char other[64];
    open_for("bob", other);
    AWAIT(notes_page(&F->rooms, other, "agent1", AGENT, &top, got_notes, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 0);
    AWAIT(notes_watch(&F->rooms, other, "감독", SUPERVISOR, got_watch, &g), g);
    assert_int_equal((int)g.status * 1000 + (int)g.last_seq, 0);
    /* The companion room is nobody's, and no support room's notes elsewhere. */
    char companion[80];
    snprintf(companion, sizeof companion, "%s-notes", room);
    AWAIT(membership_show(&F->rooms, companion, "감독", SUPERVISOR, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    char grp[64];
    make_group("agent1", (const char *[]){"bob", NULL}, grp);
    assert_int_equal(note_as(grp, "agent1", AGENT, "x", &g), ROOM_NOT_FOUND);
    assert_int_equal(note_as(grp, "감독", SUPERVISOR, "x", &g), ROOM_NOT_FOUND);

    /* A supervisor reads and watches the room, and hands it on. */
    AWAIT(history_page(&F->rooms, room, "감독", SUPERVISOR, &top, got_page, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    AWAIT(history_watch(&F->rooms, room, "감독", SUPERVISOR, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(transfer_as(room, "agent2", AGENT, "agent2", NULL, &g), ROOM_NOT_FOUND);
    assert_int_equal(transfer_as(room, "감독", SUPERVISOR, "agent2", NULL, &g), ROOM_OK);
    assert_string_equal(g.agent, "agent2");
    assert_int_equal(transfer_as(room, "감독", SUPERVISOR, NULL, NULL, &g), ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_OPEN);
    /* Waiting: a supervisor gives it to an agent (a claim on their behalf);
     * an agent may not, and the queue has it already. */
    assert_int_equal(transfer_as(room, "agent1", AGENT, "agent2", NULL, &g), ROOM_CONFLICT);
    assert_int_equal(transfer_as(room, "감독", SUPERVISOR, NULL, NULL, &g), ROOM_CONFLICT);
    F->nevents = 0;
    assert_int_equal(transfer_as(room, "감독", SUPERVISOR, "agent2", "메모", &g), ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_ASSIGNED);
    assert_string_equal(g.agent, "agent2");
    assert_int_equal(count_events("transferred"), 0);
    snprintf(line, sizeof line, "claimed %s agent2", room);
    assert_true(has_event(line));
    snprintf(line, sizeof line, "added agent2 %s", room);
    assert_true(has_event(line));
    assert_int_equal(transfer_as(room, "감독", SUPERVISOR, NULL, NULL, &g), ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_OPEN);
    /* Every waiting and every assigned room, for supervisors alone. */
    AWAIT(support_rooms_in(&F->rooms, SUPERVISOR, CHATD_ROOM_OPEN, got_rooms, &g), g);
    assert_int_equal(g.n, 2);
    AWAIT(support_rooms_in(&F->rooms, AGENT, CHATD_ROOM_OPEN, got_rooms, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    /* Erasing the customer deletes their room's notes with the room. */
    AWAIT(rooms_look_up(&F->rooms, companion, NULL, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    AWAIT(erase_user(&F->rooms, "고객", "admin", CHATD_ROLE_ADMIN, got_erased, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    AWAIT(rooms_look_up(&F->rooms, companion, NULL, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
}

/* A customer writing into a completed room within the window reopens it:
 * with its agent when available, else into the queue; never outside the
 * window, never while they have another room open. */
static void support_reopens(void **state)
{
    (void)state;
    F->agents[0] = "agent1";
    F->online[0] = "agent1";
    F->rooms.reopen_window_ms = 3600000;
    F->rooms.max_chats_per_agent = 1;
    char room[64];
    open_for("고객😀", room);
    struct got g;
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    AWAIT(support_complete(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    /* Only its customer reopens it. */
    assert_int_equal(send_text(room, "agent1", "hi", NULL), ROOM_CONFLICT);
    F->nevents = 0;
    assert_int_equal(send_text(room, "고객😀", KOREAN, NULL), ROOM_OK);
    char line[160];
    snprintf(line, sizeof line, "reopened %s agent1", room);
    assert_true(has_event(line));
    snprintf(line, sizeof line, "added agent1 %s", room);
    assert_true(has_event(line));
    AWAIT(rooms_look_up(&F->rooms, room, NULL, got_room, &g), g);
    assert_int_equal(g.state, CHATD_ROOM_ASSIGNED);
    assert_string_equal(g.agent, "agent1");
    assert_int_equal(g.last_seq, 1);
    /* Completed again; the agent away now: into the queue. */
    AWAIT(support_complete(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    F->away[0] = "agent1";
    assert_int_equal(send_text(room, "고객😀", "again 😀", NULL), ROOM_OK);
    AWAIT(rooms_look_up(&F->rooms, room, NULL, got_room, &g), g);
    assert_int_equal(g.state, CHATD_ROOM_OPEN);
    assert_string_equal(g.agent, "");
    /* Claimed and completed; the customer opened another room meanwhile. */
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    AWAIT(support_complete(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    char other[64];
    open_for("고객😀", other);
    assert_int_equal(send_text(room, "고객😀", "third", NULL), ROOM_CONFLICT);
    /* Window 0: never. */
    F->rooms.reopen_window_ms = 0;
    AWAIT(membership_leave(&F->rooms, other, "고객😀", USER, got_left, &g), g);
    assert_int_equal(send_text(room, "고객😀", "fourth", NULL), ROOM_CONFLICT);
}

static size_t histogram_count(const uint64_t b[10])
{
    size_t n = 0;
    for (size_t i = 0; i < 10; i++)
        n += b[i];
    return n;
}

/* A message stored by another instance: straight into the storage, the
 * domain on this one does not see it. */
static void appended(void *ctx, chatd_status st, const struct chatd_message *m)
{
    (void)m;
    assert_int_equal(st, CHATD_OK);
    *(bool *)ctx = true;
}

static void append_elsewhere(const char *room, const char *sender, const char *text)
{
    bool done = false;
    struct chatd_message m = {.room = room, .sender = sender, .ts_ms = clock_wall_ms(), .body = text,
                              .body_len = strlen(text), .kind = CHATD_MESSAGE_TEXT};
    void *st;
    storage_ops(F->rooms.storage, &st)->message_append(st, &m, appended, &done);
    run_until(&done);
}

/* Run the loop until the storage answered the deadline check of room. */
static void checked(const char *room)
{
    int64_t since;
    bool breached = false;
    for (int i = 0; i < 100000 && first_response_of(F->rooms.first_response, room, &since, &breached) && !breached;
         i++)
        event_base_loop(F->srv.base, EVLOOP_ONCE);
}

/* Instances' waits: each tells the others (synchronously here); a third
 * one, peer c, joins late. */
static struct first_response *peer_of_a, *peer_of_b, *peer_c;

static void tell_b(void *ctx, const struct wait_news *n)
{
    (void)ctx;
    first_response_heard(peer_of_a, n);
    first_response_heard(peer_c, n);
}

static void tell_a(void *ctx, const struct wait_news *n)
{
    (void)ctx;
    first_response_heard(peer_of_b, n);
    first_response_heard(peer_c, n);
}

static void tell_c(void *ctx, const struct wait_news *n)
{
    (void)ctx;
    first_response_heard(peer_of_a, n);
    first_response_heard(peer_of_b, n);
}

/* The instances share their waits: the other one's lists show a wait
 * and its flag; an answer or a completion there ends it here; stale news
 * changes nothing; only the instance a wait began on counts it. */
static void first_response_shared(void **state)
{
    (void)state;
    F->rooms.first_response = first_response_new(&F->rooms, F->srv.base, 300000);
    struct first_response *a = F->rooms.first_response;
    struct first_response *b = first_response_new(&F->rooms, F->srv.base, 300000);
    assert_non_null(a);
    assert_non_null(b);
    peer_of_a = a, peer_of_b = b;
    first_response_on_news(a, tell_a, NULL);
    first_response_on_news(b, tell_b, NULL);
    char r1[64], r2[64];
    open_for("고객😀", r1);
    int64_t since;
    bool breached;
    assert_true(first_response_of(b, r1, &since, &breached));
    assert_false(breached);
    size_t waiting, flagged;
    first_response_counts(b, &waiting, &flagged);
    assert_int_equal(waiting, 0); /* a copy: counted where it began */

    /* Flagged where it began; the copy shows it. */
    sla_told = false;
    first_response_check(a, clock_wall_ms() + 600000);
    run_until(&sla_told);
    assert_true(first_response_of(b, r1, &since, &breached));
    assert_true(breached);
    first_response_check(b, clock_wall_ms() + 600000); /* a copy is never checked */
    assert_int_equal(F->metrics.first_response_breaches, 1);

    /* Answered on the other instance: ended on both, counted where it began. */
    size_t before = histogram_count(F->metrics.first_response);
    struct chatd_message m = {.room = r1, .sender = "agent1", .ts_ms = clock_wall_ms(), .body = KOREAN,
                              .body_len = strlen(KOREAN), .kind = CHATD_MESSAGE_TEXT};
    first_response_message(b, &m);
    assert_false(first_response_of(b, r1, &since, &breached));
    assert_false(first_response_of(a, r1, &since, &breached));
    assert_int_equal(histogram_count(F->metrics.first_response), before + 1);

    /* Completed on the other instance: ended here too, uncounted. */
    open_for("손님🙂", r2);
    assert_true(first_response_of(b, r2, &since, &breached));
    first_response_forget(b, r2);
    assert_false(first_response_of(a, r2, &since, &breached));
    assert_int_equal(histogram_count(F->metrics.first_response), before + 1);

    /* Stale news (an older wait than the one kept) changes nothing. */
    first_response_heard(b, &(struct wait_news){WAIT_BEGAN, "r-stale", "민지", 2000, 0});
    first_response_heard(b, &(struct wait_news){WAIT_FLAGGED, "r-stale", "민지", 1000, 0});
    first_response_heard(b, &(struct wait_news){WAIT_ENDED, "r-stale", "민지", 1000, 1500});
    assert_true(first_response_of(b, "r-stale", &since, &breached));
    assert_int_equal(since, 2000);
    assert_false(breached);
    first_response_heard(b, &(struct wait_news){WAIT_ENDED, "r-stale", NULL, 2000, 0});
    assert_false(first_response_of(b, "r-stale", &since, &breached));

    /* An instance that starts after waits began asks, and keeps a copy of
     * every wait the others began (flagged or not); theirs stay theirs. */
    char r3[64], r4[64];
    open_for("늦은 손님 🐢", r3);
    open_for("플래그 손님 🚩", r4);
    sla_told = false;
    first_response_check(a, clock_wall_ms() + 600000);
    run_until(&sla_told);
    peer_c = first_response_new(&F->rooms, F->srv.base, 300000);
    assert_non_null(peer_c);
    assert_false(first_response_of(peer_c, r3, &since, &breached));
    first_response_on_news(peer_c, tell_c, NULL);
    first_response_ask(peer_c);
    int64_t since_a;
    bool breached_a;
    assert_true(first_response_of(a, r3, &since_a, &breached_a));
    assert_true(first_response_of(peer_c, r3, &since, &breached));
    assert_int_equal(since, since_a);
    assert_true(first_response_of(peer_c, r4, &since, &breached));
    assert_true(breached);
    first_response_counts(peer_c, &waiting, &flagged);
    assert_int_equal(waiting, 0); /* copies */
    first_response_counts(a, &waiting, &flagged);
    assert_int_equal(waiting, 2);
    /* an ask names no room: nothing is kept for it */
    assert_false(first_response_of(peer_c, "", &since, &breached));
    first_response_close(peer_c);
    first_response_free(peer_c);
    peer_c = NULL;
    first_response_close(b);
    first_response_free(b);
}

/* What the test expects kept for each of many rooms. */
#define MANY_FIRST 6000 /* the rooms of the first waits */
#define MANY_ROOMS (MANY_FIRST + FIRST_RESPONSE_MAX_WAITS + 64)
static struct {
    char id[ROOM_ID_MAX];
    char customer[32];
    bool kept, mine, flagged;
    int64_t since;
} many[MANY_ROOMS];

static void many_room(size_t i)
{
    assert_true(i < MANY_ROOMS);
    switch (i % 4) {
    case 0:
        snprintf(many[i].id, sizeof many[i].id, "상담-%zu-😀", i);
        break;
    case 1:
        snprintf(many[i].id, sizeof many[i].id, "r%zu🙏고객", i);
        break;
    case 2:
        snprintf(many[i].id, sizeof many[i].id, "room-%zu", i);
        break;
    default:
        snprintf(many[i].id, sizeof many[i].id, "방🎧%zu-문의", i);
    }
    snprintf(many[i].customer, sizeof many[i].customer, "고객%zu😊", i);
    many[i].kept = false;
}

static void many_wait(struct first_response *fr, size_t i, int64_t since)
{
    first_response_wait(fr, many[i].id, many[i].customer, since, 0, i % 4 == 0);
    many[i].kept = true, many[i].mine = true, many[i].flagged = false, many[i].since = since;
}

static void many_heard(struct first_response *fr, size_t i, enum wait_news_kind kind, int64_t since)
{
    first_response_heard(fr, &(struct wait_news){kind, many[i].id, many[i].customer, since, 0});
}

static void many_copy(struct first_response *fr, size_t i, int64_t since)
{
    many_heard(fr, i, WAIT_BEGAN, since);
    many[i].kept = true, many[i].mine = false, many[i].flagged = false, many[i].since = since;
}

/* Every room's look-up answers what the test expects; the counts too. */
static void many_agree(const struct first_response *fr, size_t rooms)
{
    assert_true(first_response_sound(fr));
    size_t mine = 0, mine_flagged = 0;
    for (size_t i = 0; i < rooms; i++) {
        int64_t since = -1;
        bool breached = false;
        bool kept = first_response_of(fr, many[i].id, &since, &breached);
        if (kept != many[i].kept)
            fail_msg("room %s: kept %d, expected %d", many[i].id, kept, many[i].kept);
        if (!kept)
            continue;
        if (since != many[i].since || breached != many[i].flagged)
            fail_msg("room %s: since %lld flagged %d, expected %lld %d", many[i].id, (long long)since, breached,
                     (long long)many[i].since, many[i].flagged);
        mine += many[i].mine;
        mine_flagged += many[i].mine && many[i].flagged;
    }
    size_t waiting, flagged;
    first_response_counts(fr, &waiting, &flagged);
    assert_int_equal(waiting, mine);
    assert_int_equal(flagged, mine_flagged);
}

/* The kept wait, flagged or else a copy, that began first: the one the
 * bound drops. */
static size_t many_oldest(size_t rooms, bool flagged)
{
    size_t best = MANY_ROOMS;
    for (size_t i = 0; i < rooms; i++)
        if (many[i].kept && (flagged ? many[i].flagged : !many[i].mine) &&
            (best == MANY_ROOMS || many[i].since < many[best].since))
            best = i;
    assert_true(best < MANY_ROOMS);
    return best;
}

/* Thousands of waits, own ones and copies, under Korean and emoji room
 * ids, begun out of order: each room's wait is found after insertions in
 * the middle, answers, completions, replacements that move a wait, and
 * the drops at the bound. */
static void first_response_many(void **state)
{
    (void)state;
    struct first_response *fr = first_response_new(&F->rooms, F->srv.base, 0);
    assert_non_null(fr);
    const size_t n = MANY_FIRST;
    const int64_t base = 1700000000000;
    /* Distinct, scattered beginnings: most go in between kept ones. */
    for (size_t i = 0; i < n; i++) {
        int64_t since = base + (int64_t)((i * 7919) % n) * 10;
        many_room(i);
        if (i % 2 == 0)
            many_wait(fr, i, since);
        else
            many_copy(fr, i, since);
        if (i % 10 == 5 && i < 300) { /* flagged where it began */
            many_heard(fr, i, WAIT_FLAGGED, since);
            many[i].flagged = true;
        }
    }
    many_agree(fr, n);

    /* Ended in the middle: completed, answered by an agent; the customer's
     * own message and stale news end nothing. */
    for (size_t i = n / 3; i < 2 * n / 3; i++) {
        struct chatd_message m = {.room = many[i].id, .ts_ms = many[i].since + 1000, .body = KOREAN,
                                  .body_len = strlen(KOREAN), .kind = CHATD_MESSAGE_TEXT};
        switch (i % 3) {
        case 0:
            first_response_forget(fr, many[i].id);
            many[i].kept = false;
            break;
        case 1:
            m.sender = "상담원😀";
            first_response_message(fr, &m);
            many[i].kept = false;
            break;
        default:
            m.sender = many[i].customer;
            first_response_message(fr, &m);
            many_heard(fr, i, WAIT_BEGAN, many[i].since - 1);
            first_response_heard(fr, &(struct wait_news){WAIT_ENDED, many[i].id, NULL, many[i].since - 1,
                                                         many[i].since});
        }
    }
    for (size_t i = 1; i < n / 3; i += 7) { /* answered on another instance */
        first_response_heard(fr, &(struct wait_news){WAIT_ENDED, many[i].id, NULL, many[i].since, many[i].since + 5});
        many[i].kept = false;
    }
    many_agree(fr, n);

    /* Begun again: moved to the front (own waits), to the end (copies: news
     * of an earlier beginning would be stale), or taken over by another
     * instance. */
    for (size_t i = 2 * n / 3; i < n; i += 3) {
        if (i % 2 == 0)
            many_wait(fr, i, base - (int64_t)i * 10);
        else
            many_copy(fr, i, base + (int64_t)(n + i) * 10);
    }
    for (size_t i = 0; i < n / 3; i += 8)
        if (many[i].kept && many[i].mine)
            many_copy(fr, i, many[i].since + 3);
    /* Rooms no longer kept begin again, at the end and in between. */
    for (size_t i = n / 3; i < 2 * n / 3; i += 5)
        if (!many[i].kept)
            many_wait(fr, i, base + (int64_t)i * 10 + 7);
    many_agree(fr, n);

    /* Up to the bound with copies begun later; two of them flagged. */
    size_t kept = 0;
    for (size_t i = 0; i < n; i++)
        kept += many[i].kept;
    size_t rooms = n;
    for (; kept < FIRST_RESPONSE_MAX_WAITS; rooms++, kept++) {
        many_room(rooms);
        many_copy(fr, rooms, base + 1000000 + (int64_t)rooms);
    }
    many_heard(fr, rooms - 10, WAIT_FLAGGED, many[rooms - 10].since);
    many[rooms - 10].flagged = true;
    many_agree(fr, rooms);
    /* Beyond it: the oldest flagged wait goes, then the oldest copy. */
    size_t flagged_gone = 0;
    for (int k = 0; k < 60; k++, rooms++) {
        bool any_flagged = false;
        for (size_t i = 0; i < rooms; i++)
            any_flagged |= many[i].kept && many[i].flagged;
        size_t gone = any_flagged ? many_oldest(rooms, true) : many_oldest(rooms, false);
        flagged_gone += any_flagged;
        many_room(rooms);
        if (k % 2 == 0)
            many_wait(fr, rooms, base + 2000000 + k);
        else
            many_copy(fr, rooms, base + 2000000 + k);
        many[gone].kept = false;
        assert_false(first_response_of(fr, many[gone].id, &(int64_t){0}, &(bool){0}));
        assert_true(first_response_sound(fr));
    }
    assert_in_range(flagged_gone, 2, 59); /* both kinds went */
    many_agree(fr, rooms);
    first_response_close(fr);
    first_response_free(fr);
}

/* [support] first_response_target: a customer left waiting past it is
 * flagged once; an answer (also one stored elsewhere) ends the wait;
 * customers' and system messages do not; back to the queue restarts it;
 * the desk's histograms count each wait once. */
static void first_response_targets(void **state)
{
    (void)state;
    F->agents[0] = "agent1";
    F->online[0] = "agent1";
    F->rooms.first_response = first_response_new(&F->rooms, F->srv.base, 300000);
    assert_non_null(F->rooms.first_response);
    struct first_response *fr = F->rooms.first_response;
    char late[64], quick[64], elsewhere[64];
    open_for("고객😀", late);
    open_for("손님🙂", quick);
    open_for("c3", elsewhere);
    int64_t since;
    bool breached;
    assert_true(first_response_of(fr, late, &since, &breached));
    assert_false(breached);
    size_t waiting, flagged;
    first_response_counts(fr, &waiting, &flagged);
    assert_int_equal(waiting, 3);
    assert_int_equal(flagged, 0);

    /* Answered in time: no longer kept, counted once. */
    struct got g;
    AWAIT(support_claim(&F->rooms, quick, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(histogram_count(F->metrics.support_wait), 1);
    assert_int_equal(send_text(quick, "손님🙂", "여보세요? 😀", NULL), ROOM_OK); /* the customer's own */
    assert_true(first_response_of(fr, quick, &since, &breached));
    assert_int_equal(send_text(quick, "agent1", KOREAN, NULL), ROOM_OK);
    assert_false(first_response_of(fr, quick, &since, &breached));
    assert_int_equal(histogram_count(F->metrics.first_response), 1);

    /* Another instance's agent answered: the check finds it in storage. */
    AWAIT(support_claim(&F->rooms, elsewhere, "agent1", AGENT, got_room, &g), g);
    append_elsewhere(elsewhere, "agent1", "안녕하세요, 무엇을 도와드릴까요? 🙏");

    /* Past the target: the one unanswered room is flagged, once. */
    assert_int_equal(send_text(late, "고객😀", "아무도 없나요? 😢", NULL), ROOM_OK);
    F->nevents = 0;
    sla_told = false;
    first_response_check(fr, clock_wall_ms() + 600000);
    run_until(&sla_told);
    checked(elsewhere);
    char line[160];
    snprintf(line, sizeof line, "sla %s 고객😀 300000", late);
    assert_true(has_event(line));
    assert_int_equal(count_events("sla "), 1);
    assert_true(first_response_of(fr, late, &since, &breached));
    assert_true(breached);
    assert_false(first_response_of(fr, elsewhere, &since, &breached));
    assert_int_equal(F->metrics.first_response_breaches, 1);
    assert_int_equal(histogram_count(F->metrics.first_response), 2);
    first_response_check(fr, clock_wall_ms() + 1200000);
    for (int i = 0; i < 10; i++)
        event_base_loop(F->srv.base, EVLOOP_NONBLOCK);
    assert_int_equal(count_events("sla "), 1);

    /* Answered late: the histogram has it, the flag goes. */
    AWAIT(support_claim(&F->rooms, late, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(send_text(late, "agent1", "늦어서 죄송합니다 🙇", NULL), ROOM_OK);
    assert_false(first_response_of(fr, late, &since, &breached));
    assert_int_equal(histogram_count(F->metrics.first_response), 3);

    /* Completed: handle time counted once. */
    AWAIT(support_complete(&F->rooms, late, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(histogram_count(F->metrics.handle_time), 1);

    /* Back to the queue: the customer waits again (the system message
     * does not answer), flagged by the timer at the new target. */
    assert_int_equal(transfer_as(quick, "agent1", AGENT, NULL, NULL, &g), ROOM_OK);
    assert_true(first_response_of(fr, quick, &since, &breached));
    assert_false(breached);
    sla_told = false;
    first_response_set_target(fr, 30); /* a reload */
    run_until(&sla_told);
    snprintf(line, sizeof line, "sla %s 손님🙂 30", quick);
    assert_true(has_event(line));
    /* The restarted wait is no first response: the histogram stays. */
    AWAIT(support_claim(&F->rooms, quick, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(send_text(quick, "agent1", "다시 왔어요 👋", NULL), ROOM_OK);
    assert_int_equal(histogram_count(F->metrics.first_response), 3);
    assert_int_equal(F->metrics.first_response_breaches, 2);

    /* Closed by the customer: forgotten. */
    char gone[64];
    open_for("d4", gone);
    AWAIT(membership_leave(&F->rooms, gone, "d4", USER, got_left, &g), g);
    assert_false(first_response_of(fr, gone, &since, &breached));
}

/* A transcript as the reader is handed it. */
struct got_transcript {
    bool done, had_room, truncated;
    enum room_status status;
    size_t n;
    uint64_t first_seq, last_seq;
    bool in_order;
};

static void transcript_room(void *ctx, const struct chatd_room *room)
{
    struct got_transcript *t = ctx;
    t->had_room = room != NULL;
}

static void transcript_messages(void *ctx, const struct chatd_message *msgs, size_t n)
{
    struct got_transcript *t = ctx;
    for (size_t i = 0; i < n; i++) {
        if (!t->n)
            t->first_seq = msgs[i].seq;
        else if (msgs[i].seq != t->last_seq + 1)
            t->in_order = false;
        t->last_seq = msgs[i].seq;
        t->n++;
    }
}

static void transcript_done(void *ctx, const struct room_answer *a, bool truncated)
{
    struct got_transcript *t = ctx;
    t->done = true;
    t->status = a->status;
    t->truncated = truncated;
}

static enum room_status read_transcript(const char *room, const char *user, uint32_t roles, struct got_transcript *t)
{
    memset(t, 0, sizeof *t);
    t->in_order = true;
    struct transcript_reader reader = {.ctx = t, .room = transcript_room, .messages = transcript_messages,
                                       .done = transcript_done};
    transcript_read(&F->rooms, room, user, roles, &reader);
    run_until(&t->done);
    return t->status;
}

/* Every message in order, page by page, up to the bound: exactly at it
 * nothing is cut, one more and the reader is told. Who may read it. */
static void support_transcripts(void **state)
{
    (void)state;
    char room[64];
    open_for("고객😀", room);
    struct got g;
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    for (size_t i = 0; i < TRANSCRIPT_MAX_MESSAGES; i++)
        assert_int_equal(send_text(room, i % 2 ? "agent1" : "고객😀", KOREAN, NULL), ROOM_OK);
    struct got_transcript t;
    assert_int_equal(read_transcript(room, "고객😀", USER, &t), ROOM_OK);
    assert_true(t.had_room && t.in_order && !t.truncated);
    assert_int_equal(t.n, TRANSCRIPT_MAX_MESSAGES);
    assert_int_equal(t.first_seq, 1);
    assert_int_equal(t.last_seq, TRANSCRIPT_MAX_MESSAGES);
    assert_int_equal(send_text(room, "고객😀", "one more 😀", NULL), ROOM_OK);
    assert_int_equal(read_transcript(room, "agent1", AGENT, &t), ROOM_OK);
    assert_true(t.truncated && t.in_order);
    assert_int_equal(t.n, TRANSCRIPT_MAX_MESSAGES);
    assert_int_equal(t.last_seq, TRANSCRIPT_MAX_MESSAGES);
    /* An admin reads any support room; another customer, an agent who is
     * no member: no such room; a group has no transcript. */
    assert_int_equal(read_transcript(room, "admin", CHATD_ROLE_ADMIN | CHATD_ROLE_USER, &t), ROOM_OK);
    assert_int_equal(read_transcript(room, "other", USER, &t), ROOM_NOT_FOUND);
    assert_false(t.had_room);
    assert_int_equal(read_transcript(room, "agent2", AGENT, &t), ROOM_NOT_FOUND);
    char group[64];
    make_group("고객😀", (const char *const[]){"bob", NULL}, group);
    assert_int_equal(read_transcript(group, "bob", USER, &t), ROOM_BAD_REQUEST);
    assert_int_equal(read_transcript("rnone", "bob", USER, &t), ROOM_NOT_FOUND);
}

static enum room_status rate_as(const char *room, const char *user, uint32_t roles, long long rating,
                                const char *comment, size_t comment_len, struct got *g)
{
    struct rating_request req = {.room_id = room, .user = user, .roles = roles, .rating = rating,
                                 .comment = comment, .comment_len = comment_len};
    AWAIT(support_rate(&F->rooms, &req, got_room, g), *g);
    return g->status;
}

/* Rated by its customer once, after completion; every refusal. */
static void support_ratings(void **state)
{
    (void)state;
    char room[64];
    open_for("고객😀", room);
    struct got g;
    assert_int_equal(rate_as(room, "고객😀", USER, 5, NULL, 0, &g), ROOM_CONFLICT);
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    AWAIT(support_complete(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(rate_as(room, "고객😀", USER, 0, NULL, 0, &g), ROOM_BAD_REQUEST);
    assert_int_equal(rate_as(room, "고객😀", USER, 6, NULL, 0, &g), ROOM_BAD_REQUEST);
    assert_int_equal(rate_as(room, "고객😀", USER, 5, "\xff\xfe", 2, &g), ROOM_BAD_REQUEST);
    assert_int_equal(rate_as(room, "고객😀", USER, 5, "a\0b", 3, &g), ROOM_BAD_REQUEST);
    char big[RATING_COMMENT_MAX + 2];
    memset(big, 'x', sizeof big);
    assert_int_equal(rate_as(room, "고객😀", USER, 5, big, RATING_COMMENT_MAX + 1, &g), ROOM_BAD_REQUEST);
    assert_int_equal(rate_as(room, "agent1", AGENT, 5, NULL, 0, &g), ROOM_FORBIDDEN);
    assert_int_equal(rate_as(room, "other", USER, 5, NULL, 0, &g), ROOM_NOT_FOUND);
    F->nevents = 0;
    assert_int_equal(rate_as(room, "고객😀", USER, 4, KOREAN, strlen(KOREAN), &g), ROOM_OK);
    char line[160];
    snprintf(line, sizeof line, "rated %s 4", room);
    assert_true(has_event(line));
    assert_int_equal(rate_as(room, "고객😀", USER, 1, NULL, 0, &g), ROOM_CONFLICT);
    assert_string_equal(g.why, "the room is rated already");
    char group[64];
    make_group("고객😀", (const char *const[]){"bob", NULL}, group);
    assert_int_equal(rate_as(group, "bob", USER, 5, NULL, 0, &g), ROOM_BAD_REQUEST);
}

/* Canned replies: what a shortcut, a title and a body may be. */
static void canned_rules(void **state)
{
    (void)state;
    char out[CHATD_CANNED_SHORTCUT_MAX + 1];
    const char *why = NULL;
#define SC_OK(in, want)                                                     \
    do {                                                                    \
        assert_true(canned_shortcut_normal(in, strlen(in), out, &why));     \
        assert_string_equal(out, want);                                     \
    } while (0)
#define SC_BAD(in, len) assert_false(canned_shortcut_normal(in, len, out, &why))
    SC_OK("refund", "refund");
    SC_OK("/Refund", "refund");         /* the leading '/' is how agents type it */
    SC_OK("환불", "환불");
    SC_OK("/환불-Policy_2", "환불-policy_2"); /* only A-Z folded */
    SC_OK("😀hi", "😀hi");
    SC_OK("ÄB", "Äb");
    char k32[33 * 3 + 1] = "";
    for (int i = 0; i < 32; i++)
        strcat(k32, "가");
    SC_OK(k32, k32);
    char e32[32 * 4 + 1] = "";
    for (int i = 0; i < 32; i++)
        strcat(e32, "😀");
    SC_OK(e32, e32); /* 128 bytes: CHATD_CANNED_SHORTCUT_MAX */
    strcat(k32, "가");
    SC_BAD(k32, strlen(k32));
    SC_BAD("", 0);
    SC_BAD("/", 1);
    SC_BAD("//a", 3);
    SC_BAD("a b", 3);
    SC_BAD("a\tb", 3);
    SC_BAD("a\xc2\xa0" "b", 4);     /* no-break space */
    SC_BAD("a\xe3\x80\x80" "b", 5); /* ideographic space */
    SC_BAD("a\xe2\x80\x8b" "b", 5); /* zero width space */
    SC_BAD("a\x7f", 2);
    SC_BAD("a\xc2\x85", 3);         /* a C1 control */
    SC_BAD("a\0b", 3);
    SC_BAD("\xff\xfe", 2);
    SC_BAD("\xed\xa0\x80", 3);      /* a surrogate */
    for (const char *p = "/?#%\\\""; *p; p++) {
        char bad[4] = {'a', *p, 'b', 0};
        SC_BAD(bad, 3);
    }
    assert_non_null(why);
#undef SC_OK
#undef SC_BAD
    assert_true(canned_title_ok("환불 안내 😀", strlen("환불 안내 😀"), &why));
    assert_false(canned_title_ok("", 0, &why));
    assert_false(canned_title_ok("two\nlines", 9, &why));
    char big[CANNED_BODY_MAX + 2];
    memset(big, 'x', sizeof big);
    assert_true(canned_title_ok(big, CANNED_TITLE_MAX, &why));
    assert_false(canned_title_ok(big, CANNED_TITLE_MAX + 1, &why));
    assert_true(canned_body_ok(big, CANNED_BODY_MAX, &why));
    assert_false(canned_body_ok(big, CANNED_BODY_MAX + 1, &why));
    assert_true(canned_body_ok("줄 하나\n줄 둘\t😀\r\n", strlen("줄 하나\n줄 둘\t😀\r\n"), &why));
    assert_false(canned_body_ok("", 0, &why));
    assert_false(canned_body_ok("a\0b", 3, &why));
    assert_false(canned_body_ok("bell\x07", 5, &why));
    assert_false(canned_body_ok("\xc3", 1, &why));
    assert_true(canned_may_read(AGENT) && canned_may_read(CHATD_ROLE_ADMIN));
    assert_false(canned_may_read(USER));
    assert_true(canned_may_write(CHATD_ROLE_ADMIN, false));
    assert_false(canned_may_write(AGENT, false));
    assert_true(canned_may_write(AGENT, true));
    assert_false(canned_may_write(USER, true));
}

struct got_canned {
    bool done;
    enum room_status status;
    bool created;
    size_t n;
    char shortcuts[8][140];
    char bodies[8][200];
};

static void got_canned_list(void *ctx, const struct room_answer *a, const struct chatd_canned_reply *r, size_t n)
{
    struct got_canned *g = ctx;
    g->status = a->status;
    g->n = n;
    for (size_t i = 0; i < n && i < 8; i++) {
        snprintf(g->shortcuts[i], sizeof g->shortcuts[i], "%s", r[i].shortcut);
        snprintf(g->bodies[i], sizeof g->bodies[i], "%s", r[i].body);
    }
    g->done = true;
}

static void got_canned_saved(void *ctx, const struct room_answer *a, const struct chatd_canned_reply *r, bool created)
{
    struct got_canned *g = ctx;
    g->status = a->status;
    g->created = created;
    g->n = r != NULL;
    if (r)
        snprintf(g->shortcuts[0], sizeof g->shortcuts[0], "%s", r->shortcut);
    g->done = true;
}

static enum room_status canned_put_as(const char *user, uint32_t roles, const char *sc, const char *title,
                                      const char *body, struct got_canned *g)
{
    struct canned_request req = {.user = user, .roles = roles, .shortcut = sc, .shortcut_len = strlen(sc),
                                 .title = title, .title_len = title ? strlen(title) : 0, .body = body,
                                 .body_len = body ? strlen(body) : 0};
    AWAIT(canned_save(&F->rooms, &req, got_canned_saved, g), *g);
    return g->status;
}

/* Canned replies through the domain: who reads, who writes, what is
 * stored (the shortcut as normalized), replaced and removed. */
static void canned_rights(void **state)
{
    (void)state;
    const uint32_t ADMIN = CHATD_ROLE_ADMIN | CHATD_ROLE_USER;
    struct got_canned g;
    struct got d;
    assert_int_equal(canned_put_as("agent1", AGENT, "환불", "T", KOREAN, &g), ROOM_FORBIDDEN);
    assert_int_equal(canned_put_as("bob", USER, "환불", "T", KOREAN, &g), ROOM_FORBIDDEN);
    assert_int_equal(canned_put_as("admin", ADMIN, "a b", "T", KOREAN, &g), ROOM_BAD_REQUEST);
    assert_int_equal(canned_put_as("admin", ADMIN, "ok", NULL, KOREAN, &g), ROOM_BAD_REQUEST);
    assert_int_equal(canned_put_as("admin", ADMIN, "ok", "T", "", &g), ROOM_BAD_REQUEST);
    assert_int_equal(canned_put_as("admin", ADMIN, "/환불", "환불", KOREAN, &g), ROOM_OK);
    assert_true(g.created);
    assert_string_equal(g.shortcuts[0], "환불");
    assert_int_equal(canned_put_as("admin", ADMIN, "환불", "환불", "다시 😀", &g), ROOM_OK);
    assert_false(g.created);
    assert_int_equal(canned_put_as("admin", ADMIN, "/REFUND", "R", "r", &g), ROOM_OK);
    AWAIT(canned_list(&F->rooms, USER, got_canned_list, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(canned_list(&F->rooms, AGENT, got_canned_list, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.shortcuts[0], "refund");
    assert_string_equal(g.shortcuts[1], "환불");
    assert_string_equal(g.bodies[1], "다시 😀");
    /* [support] canned_writers = agents */
    F->rooms.canned_agents_write = true;
    assert_int_equal(canned_put_as("agent1", AGENT, "배송", "T", "b", &g), ROOM_OK);
    struct canned_request rm = {.user = "agent1", .roles = AGENT, .shortcut = "배송", .shortcut_len = strlen("배송")};
    AWAIT(canned_remove(&F->rooms, &rm, got_done, &d), d);
    assert_int_equal(d.status, ROOM_OK);
    AWAIT(canned_remove(&F->rooms, &rm, got_done, &d), d);
    assert_int_equal(d.status, ROOM_NOT_FOUND);
    F->rooms.canned_agents_write = false;
    AWAIT(canned_remove(&F->rooms, &rm, got_done, &d), d);
    assert_int_equal(d.status, ROOM_FORBIDDEN);
}

/* open -> claimed -> completed, then closed; what each state refuses. */
static void support_states(void **state)
{
    (void)state;
    struct got g, again;
    AWAIT(support_open(&F->rooms, "고객", NULL, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_OPEN);
    char room[64];
    snprintf(room, sizeof room, "%s", g.id);
    char line[160];
    snprintf(line, sizeof line, "opened %s", room);
    assert_true(has_event(line));
    /* One open support room per customer. */
    AWAIT(support_open(&F->rooms, "고객", NULL, got_room, &again), again);
    assert_int_equal(again.status, ROOM_EXISTS);
    assert_string_equal(again.id, room);
    assert_int_equal(count_events("opened"), 1);

    /* The queue is the agents'. */
    AWAIT(support_queue(&F->rooms, "고객", USER, false, got_rooms, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(support_queue(&F->rooms, "agent1", AGENT, false, got_rooms, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.id, room);

    /* open: only agents claim, an agent cannot complete what nobody claimed. */
    AWAIT(support_claim(&F->rooms, room, "고객", USER, got_room, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(support_claim(&F->rooms, room, "outsider", USER, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    AWAIT(support_complete(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_CONFLICT);
    assert_string_equal(g.why, "the room is not assigned to you");

    /* claimed */
    AWAIT(support_claim(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_ASSIGNED);
    assert_string_equal(g.agent, "agent1");
    snprintf(line, sizeof line, "claimed %s agent1", room);
    assert_true(has_event(line));
    AWAIT(support_queue(&F->rooms, "agent1", AGENT, false, got_rooms, &g), g);
    assert_int_equal(g.n, 0);
    AWAIT(support_queue(&F->rooms, "agent1", AGENT, true, got_rooms, &g), g);
    assert_int_equal(g.n, 1);
    AWAIT(support_claim(&F->rooms, room, "agent2", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_CONFLICT);
    assert_string_equal(g.why, "the room is already assigned");
    AWAIT(support_complete(&F->rooms, room, "agent2", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND); /* agent2 is no member */
    assert_int_equal(send_text(room, "고객", KOREAN, NULL), ROOM_OK);

    /* completed: read-only */
    AWAIT(support_complete(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_COMPLETED);
    assert_int_equal(count_events("completed"), 1);
    AWAIT(support_complete(&F->rooms, room, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_CONFLICT);
    assert_string_equal(g.why, "the room is not assigned to you");
    assert_int_equal(send_text(room, "고객", "more", NULL), ROOM_CONFLICT);

    /* The customer may open a new one now. */
    AWAIT(support_open(&F->rooms, "고객", NULL, got_room, &again), again);
    assert_int_equal(again.status, ROOM_OK);
    assert_string_not_equal(again.id, room);

    /* closed: a transcript; closing again and claiming are refused. */
    AWAIT(membership_leave(&F->rooms, again.id, "agent1", AGENT, got_left, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN); /* only its customer closes it */
    AWAIT(membership_leave(&F->rooms, again.id, "고객", USER, got_left, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.how, ROOM_CLOSED_KEPT);
    snprintf(line, sizeof line, "closed %s by 고객 kept", again.id);
    assert_true(has_event(line));
    AWAIT(membership_leave(&F->rooms, again.id, "고객", USER, got_left, &g), g);
    assert_int_equal(g.status, ROOM_CONFLICT);
    assert_string_equal(g.why, "the room is closed already");
    AWAIT(support_claim(&F->rooms, again.id, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_CONFLICT);
    assert_string_equal(g.why, "the room is closed");
    assert_int_equal(send_text(again.id, "고객", "after", NULL), ROOM_CONFLICT);
    /* Claims of rooms that are no support rooms. */
    char grp[64];
    make_group("agent1", (const char *[]){"bob", NULL}, grp);
    AWAIT(support_claim(&F->rooms, grp, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
}

/* Two agents claim the same room at once: exactly one wins. */
static void claim_race(void **state)
{
    (void)state;
    struct got g, a, b;
    AWAIT(support_open(&F->rooms, "customer", NULL, got_room, &g), g);
    char room[64];
    snprintf(room, sizeof room, "%s", g.id);
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    support_claim(&F->rooms, room, "agent1", AGENT, got_room, &a);
    support_claim(&F->rooms, room, "agent2", AGENT, got_room, &b);
    run_until(&a.done);
    run_until(&b.done);
    assert_true((a.status == ROOM_OK) != (b.status == ROOM_OK));
    struct got *won = a.status == ROOM_OK ? &a : &b, *lost = a.status == ROOM_OK ? &b : &a;
    assert_int_equal(lost->status, ROOM_CONFLICT);
    assert_string_equal(lost->why, "the room is already assigned");
    assert_false(lost->has_room);
    assert_string_equal(won->agent, won == &a ? "agent1" : "agent2");
    assert_int_equal(count_events("claimed"), 1);
}

/* Who may read, send, and change a group; direct rooms change nothing. */
static void membership_rights(void **state)
{
    (void)state;
    struct got g;
    AWAIT(membership_create_direct(&F->rooms, "alice", "alice", got_room, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    AWAIT(membership_create_direct(&F->rooms, "alice", "bob", got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    char direct[64];
    snprintf(direct, sizeof direct, "%s", g.id);
    AWAIT(membership_create_direct(&F->rooms, "bob", "alice", got_room, &g), g);
    assert_int_equal(g.status, ROOM_EXISTS);
    assert_string_equal(g.id, direct);
    struct group_request add = {.what = CHATD_GROUP_ADD, .user = "carol"};
    AWAIT(group_change(&F->rooms, direct, "alice", USER, &add, got_room, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);

    AWAIT(membership_create_group(&F->rooms, "alice", "", NULL, 0, got_room, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    AWAIT(membership_create_group(&F->rooms, "alice", "t", (const char *[]){"bob", ""}, 2, got_room, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    char room[64], line[160];
    F->nevents = 0;
    make_group("alice", (const char *[]){"bob", "carol", "bob", "alice", NULL}, room);
    assert_int_equal(count_events("added"), 2); /* bob and carol, once each */

    /* An outsider reads nothing, sends nothing, watches nothing. */
    struct history_cursor top = {0};
    AWAIT(history_page(&F->rooms, room, "dave", USER, &top, got_page, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    AWAIT(membership_show(&F->rooms, room, "dave", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    AWAIT(history_watch(&F->rooms, room, "dave", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    AWAIT(read_mark_set(&F->rooms, room, "dave", 1, got_mark, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    AWAIT(typing_signal(&F->rooms, room, "dave", got_done, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    assert_int_equal(send_text(room, "dave", "hi", NULL), ROOM_NOT_FOUND);
    assert_int_equal(send_text("nosuchroom", "alice", "hi", NULL), ROOM_NOT_FOUND);
    assert_int_equal(send_text(room, "bob", KOREAN, NULL), ROOM_OK);
    AWAIT(group_change(&F->rooms, room, "dave", USER, &(struct group_request){.what = CHATD_GROUP_ADD, .user = "dave"},
                       got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);

    /* A plain member cannot add, rename or remove. */
    struct group_request add_dave = {.what = CHATD_GROUP_ADD, .user = "dave"};
    AWAIT(group_change(&F->rooms, room, "bob", USER, &add_dave, got_room, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    struct group_request rename = {.what = CHATD_GROUP_RENAME, .title = "새 이름 🎉"};
    AWAIT(group_change(&F->rooms, room, "bob", USER, &rename, got_room, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    struct group_request remove_carol = {.what = CHATD_GROUP_REMOVE, .user = "carol"};
    AWAIT(group_change(&F->rooms, room, "bob", USER, &remove_carol, got_room, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);

    /* The owner adds, renames, makes an admin. */
    F->nevents = 0;
    AWAIT(group_change(&F->rooms, room, "alice", USER, &add_dave, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    snprintf(line, sizeof line, "joined %s dave by alice", room);
    assert_true(has_event(line));
    snprintf(line, sizeof line, "added dave %s", room);
    assert_true(has_event(line));
    AWAIT(group_change(&F->rooms, room, "alice", USER, &add_dave, got_room, &g), g);
    assert_int_equal(g.status, ROOM_EXISTS); /* already so: nothing announced */
    assert_int_equal(count_events("joined"), 1);
    AWAIT(group_change(&F->rooms, room, "alice", USER, &rename, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    snprintf(line, sizeof line, "renamed %s 새 이름 🎉 by alice", room);
    assert_true(has_event(line));
    struct group_request admin_bob = {.what = CHATD_GROUP_ROLE, .user = "bob", .role = CHATD_MEMBER_ADMIN};
    AWAIT(group_change(&F->rooms, room, "alice", USER, &admin_bob, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);

    /* An admin removes a plain member, not the owner. */
    AWAIT(group_change(&F->rooms, room, "bob", USER, &remove_carol, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    snprintf(line, sizeof line, "left %s carol by bob", room);
    assert_true(has_event(line));
    struct group_request remove_alice = {.what = CHATD_GROUP_REMOVE, .user = "alice"};
    AWAIT(group_change(&F->rooms, room, "bob", USER, &remove_alice, got_room, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(group_change(&F->rooms, room, "bob", USER, &remove_carol, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND); /* carol is no member now */
    assert_string_equal(g.why, "carol is not a member of this group");
    /* carol is out: nothing to read any more. */
    AWAIT(history_page(&F->rooms, room, "carol", USER, &top, got_page, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);

    /* The owner leaves: ownership passes on. */
    F->nevents = 0;
    AWAIT(membership_leave(&F->rooms, room, "alice", USER, got_left, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.how, ROOM_LEFT_GROUP);
    snprintf(line, sizeof line, "left %s alice by -", room);
    assert_true(has_event(line));
    snprintf(line, sizeof line, "role %s bob %d by alice", room, (int)CHATD_MEMBER_OWNER);
    assert_true(has_event(line));
    /* Deleting for everyone is the owner's or an admin's. */
    struct group_request del = {.what = CHATD_GROUP_DELETE};
    AWAIT(group_change(&F->rooms, room, "dave", USER, &del, got_room, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(group_change(&F->rooms, room, "bob", USER, &del, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    snprintf(line, sizeof line, "deleted %s by bob", room);
    assert_true(has_event(line));
    AWAIT(membership_show(&F->rooms, room, "bob", USER, got_room, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
}

/* Newest first, before/after cursors, no duplicate across pages, the text
 * as sent. */
static void history_cursors(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", NULL}, room);
    for (int i = 1; i <= 45; i++) {
        char text[64];
        snprintf(text, sizeof text, "%d " KOREAN, i);
        uint64_t seq = 0;
        assert_int_equal(send_text(room, i % 2 ? "alice" : "bob", text, &seq), ROOM_OK);
        assert_int_equal(seq, (uint64_t)i);
    }
    bool seen[46] = {0};
    struct history_cursor cur = {0};
    struct got g;
    size_t pages = 0, total = 0;
    uint64_t expect = 45;
    for (;;) {
        AWAIT(history_page(&F->rooms, room, "bob", USER, &cur, got_page, &g), g);
        assert_int_equal(g.status, ROOM_OK);
        pages++;
        for (size_t i = 0; i < g.n; i++) {
            assert_int_equal(g.seqs[i], expect); /* newest first, no gap */
            expect--;
            assert_false(seen[g.seqs[i]]);
            seen[g.seqs[i]] = true;
            char text[64];
            snprintf(text, sizeof text, "%llu " KOREAN, (unsigned long long)g.seqs[i]);
            assert_string_equal(g.bodies[i], text);
        }
        total += g.n;
        if (!g.next_before)
            break;
        assert_int_equal(g.next_before, g.seqs[g.n - 1]);
        cur = (struct history_cursor){.before_set = true, .before = g.next_before};
    }
    assert_int_equal(pages, 3); /* 20, 20, 5 */
    assert_int_equal(total, 45);
    /* after: the oldest newer than it, oldest first, no cursor behind. */
    cur = (struct history_cursor){.after_set = true, .after = 40, .limit_set = true, .limit = 3};
    AWAIT(history_page(&F->rooms, room, "alice", USER, &cur, got_page, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 3);
    assert_int_equal(g.seqs[0], 41);
    assert_int_equal(g.seqs[2], 43);
    assert_int_equal(g.next_before, 0);
    /* Cursors that are none. */
    struct history_cursor bad[] = {
        {.before_set = true, .before = 0},
        {.before_set = true, .before = 5, .after_set = true, .after = 1},
        {.limit_set = true, .limit = 0},
        {.limit_set = true, .limit = HISTORY_PAGE_MAX + 1},
        {.malformed = true},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        AWAIT(history_page(&F->rooms, room, "alice", USER, &bad[i], got_page, &g), g);
        assert_int_equal(g.status, ROOM_BAD_REQUEST);
        assert_string_equal(g.why, "before (>= 1) or after, and limit 1..100");
        /* ...but a room not theirs is not found first. */
        AWAIT(history_page(&F->rooms, room, "mallory", USER, &bad[i], got_page, &g), g);
        assert_int_equal(g.status, ROOM_NOT_FOUND);
    }
}

/* since-seq: pages of REPLAY_PAGE oldest first, `more` until the last. */
static void replay_pages(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", NULL}, room);
    for (int i = 1; i <= 2 * REPLAY_PAGE + 5; i++)
        assert_int_equal(send_text(room, "alice", KOREAN, NULL), ROOM_OK);
    struct got g;
    AWAIT(history_watch(&F->rooms, room, "bob", USER, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.last_seq, 2 * REPLAY_PAGE + 5);
    uint64_t after = 50, next = 51;
    size_t pages = 0;
    do {
        AWAIT(history_replay_page(&F->rooms, room, after, got_replay, &g), g);
        assert_int_equal(g.status, ROOM_OK);
        for (size_t i = 0; i < g.n; i++) {
            assert_int_equal(g.seqs[i], next++);
            assert_string_equal(g.bodies[i], KOREAN);
        }
        if (g.n)
            after = g.seqs[g.n - 1];
        pages++;
    } while (g.more);
    assert_int_equal(next, 2 * REPLAY_PAGE + 6);
    assert_int_equal(pages, 2); /* 100, then 55 */
    AWAIT(history_replay_page(&F->rooms, room, after, got_replay, &g), g);
    assert_int_equal(g.n, 0);
    assert_false(g.more);
}

/* Who hears of a stored message: not its sender, not who watches the room;
 * in-band who is online, the notify plugins for the others; one preview of
 * the text. The sender's read mark follows their message. */
static void notification_decisions(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", "carol", "dave", NULL}, room);
    F->online[0] = "alice";
    F->online[1] = "bob";
    F->online[2] = "carol";
    snprintf(F->watching[0], sizeof F->watching[0], "bob %s", room);
    snprintf(F->watching[1], sizeof F->watching[1], "alice %s", room);
    F->nevents = 0;
    uint64_t seq = 0;
    assert_int_equal(send_text(room, "alice", KOREAN, &seq), ROOM_OK);
    char line[160];
    snprintf(line, sizeof line, "message %s 1 alice trace tr-1 origin 7", room);
    assert_true(has_event(line));
    assert_true(has_event("notice carol 1 " KOREAN));
    assert_true(has_event("offline dave 1 " KOREAN));
    assert_int_equal(count_events("notice"), 1);
    assert_int_equal(count_events("offline"), 1);
    assert_int_equal(count_events("failed"), 0);
    assert_int_equal(F->nevents, 3);
    struct got g;
    AWAIT(membership_rooms_of(&F->rooms, "alice", got_rooms, &g), g);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.read_seq, seq);
    AWAIT(membership_rooms_of(&F->rooms, "carol", got_rooms, &g), g);
    assert_int_equal(g.read_seq, 0);
    /* A body that is no room message never reaches the room. */
    char why[256];
    struct message_send *ms = NULL;
    struct message_draft d = {.room_id = room, .sender = "alice", .body = "\xff\xfe", .body_len = 2};
    assert_int_equal(message_send_new(&F->rooms, &d, &ms, why, sizeof why), ROOM_BAD_REQUEST);
    assert_null(ms);
    assert_true(why[0]);
}

/* A read mark never passes the last message nor goes back; the room hears
 * of it, and the reader of what is left unread. */
static void read_marks_and_typing(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", NULL}, room);
    assert_int_equal(send_text(room, "alice", KOREAN, NULL), ROOM_OK);
    assert_int_equal(send_text(room, "alice", KOREAN, NULL), ROOM_OK);
    struct got g;
    char line[160];
    AWAIT(read_mark_set(&F->rooms, room, "bob", 1, got_mark, &g), g);
    assert_int_equal(g.seq, 1);
    snprintf(line, sizeof line, "read %s bob 1 unread 1", room);
    assert_true(has_event(line));
    AWAIT(read_mark_set(&F->rooms, room, "bob", 99, got_mark, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.seq, 2);
    snprintf(line, sizeof line, "read %s bob 2 unread 0", room);
    assert_true(has_event(line));
    F->nevents = 0;
    AWAIT(read_mark_set(&F->rooms, room, "bob", 1, got_mark, &g), g);
    assert_int_equal(g.seq, 2);
    assert_true(has_event(line));
    AWAIT(typing_signal(&F->rooms, room, "bob", got_done, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    snprintf(line, sizeof line, "typing %s bob", room);
    assert_true(has_event(line));
}

/* An admin's erase: each room the user lost ends their subscriptions. */
static void erase_rights_and_events(void **state)
{
    (void)state;
    char room[64];
    make_group("alice", (const char *[]){"bob", NULL}, room);
    struct got g;
    AWAIT(support_open(&F->rooms, "bob", NULL, got_room, &g), g);
    char support[64];
    snprintf(support, sizeof support, "%s", g.id);
    assert_int_equal(send_text(room, "bob", KOREAN, NULL), ROOM_OK);
    AWAIT(erase_user(&F->rooms, "bob", "alice", USER, got_erased, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(erase_user(&F->rooms, "", "root", CHATD_ROLE_ADMIN, got_erased, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    F->nevents = 0;
    AWAIT(erase_user(&F->rooms, "bob", "root", CHATD_ROLE_ADMIN, got_erased, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.erased.rooms_deleted, 1);
    assert_int_equal(g.erased.messages_erased, 1);
    char line[160];
    snprintf(line, sizeof line, "left %s bob by - erased", room);
    assert_true(has_event(line));
    snprintf(line, sizeof line, "deleted %s by - erased", support);
    assert_true(has_event(line));
    assert_int_equal(F->metrics.users_erased, 1);
}

/* ------------------------------------------------ the support desk */

static void routing_picks(void **state)
{
    (void)state;
    struct agent_view a[] = {{"a1", AGENT_ONLINE, 2}, {"a2", AGENT_AWAY, 0}, {"a3", AGENT_ONLINE, 1},
                             {"a4", AGENT_OFFLINE, 0}, {"a5", AGENT_ONLINE, 3}};
    /* manual never picks; nobody to pick from */
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_MANUAL, a, 5, 0, NULL, NULL), -1);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 0, 0, NULL, NULL), -1);
    /* round robin: in order after the last one, wrapping, away and offline skipped */
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 0, NULL, NULL), 0);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 0, "a1", NULL), 2);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 0, "a3", NULL), 4);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 0, "a5", NULL), 0);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 0, "gone", NULL), 0);
    /* limits: at the limit is not available */
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 2, "a3", NULL), 2);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 1, NULL, NULL), -1);
    /* least busy: the fewest open chats, away and offline skipped */
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_LEAST_BUSY, a, 5, 0, NULL, NULL), 2);
    a[2].open = 2; /* a tie of a1 and a3: the first after the last one */
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_LEAST_BUSY, a, 5, 0, NULL, NULL), 0);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_LEAST_BUSY, a, 5, 0, "a1", NULL), 2);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_LEAST_BUSY, a, 5, 2, NULL, NULL), -1);
    /* only the eligible (the room's topic is their skill) */
    bool eligible[] = {false, true, false, true, true};
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 0, NULL, eligible), 4);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_LEAST_BUSY, a, 5, 0, NULL, eligible), 4);
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_LEAST_BUSY, a, 5, 3, NULL, eligible), -1);
    eligible[4] = false;
    assert_int_equal(routing_pick(SUPPORT_ASSIGN_ROUND_ROBIN, a, 5, 0, NULL, eligible), -1);
}

static void routing_wait(void)
{
    for (int i = 0; routing_busy(F->rooms.routing) && i < 100000; i++)
        event_base_loop(F->srv.base, EVLOOP_ONCE);
    assert_false(routing_busy(F->rooms.routing));
}

/* Open a support room for customer about topic (may be NULL); its id in out. */
static void open_about(const char *customer, const char *topic, char out[64])
{
    struct got g;
    AWAIT(support_open(&F->rooms, customer, topic, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_string_equal(g.topic, topic ? topic : "");
    snprintf(out, 64, "%s", g.id);
}

/* Open a support room for customer; its id in out. */
static void open_for(const char *customer, char out[64])
{
    struct got g;
    AWAIT(support_open(&F->rooms, customer, NULL, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    snprintf(out, 64, "%s", g.id);
}

static void assigned_to(const char *room, const char *agent)
{
    struct got g;
    AWAIT(rooms_look_up(&F->rooms, room, NULL, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_string_equal(g.agent, agent);
    assert_int_equal(g.state, agent[0] ? CHATD_ROOM_ASSIGNED : CHATD_ROOM_OPEN);
    char line[160];
    if (agent[0]) {
        snprintf(line, sizeof line, "claimed %s %s", room, agent);
        assert_true(has_event(line));
        snprintf(line, sizeof line, "added %s %s", agent, room);
        assert_true(has_event(line));
    }
}

static void start_routing(enum support_assign mode, size_t max)
{
    F->rooms.max_chats_per_agent = max;
    F->rooms.routing = routing_new(&F->rooms, F->srv.base, mode, NULL, NULL);
    assert_non_null(F->rooms.routing);
}

static void routing_round_robin(void **state)
{
    (void)state;
    F->agents[0] = "agent1", F->agents[1] = "agent2", F->agents[2] = "agent3";
    F->online[0] = "agent1", F->online[1] = "agent2"; /* agent3 offline */
    start_routing(SUPPORT_ASSIGN_ROUND_ROBIN, 0);
    char r1[64], r2[64], r3[64];
    open_for("고객😀1", r1);
    routing_wait();
    open_for("고객😀2", r2);
    routing_wait();
    open_for("고객😀3", r3);
    routing_wait();
    assigned_to(r1, "agent1");
    assigned_to(r2, "agent2");
    assigned_to(r3, "agent1");
    assert_int_equal(routing_assigned(F->rooms.routing), 3);
}

/* Two instances' views of one desk: this one does not route until told
 * it leads; a room opened here meanwhile asks the router, not a sweep. */
static bool leads;
static int asked;

static bool is_leader(const void *ctx)
{
    (void)ctx;
    return leads;
}

static void ask_router(void *ctx)
{
    (void)ctx;
    asked++;
}

static void routing_asks_the_router_elsewhere(void **state)
{
    (void)state;
    F->agents[0] = "agent1";
    F->online[0] = "agent1";
    leads = false, asked = 0;
    F->rooms.routing = routing_new(&F->rooms, F->srv.base, SUPPORT_ASSIGN_ROUND_ROBIN, is_leader, NULL);
    assert_non_null(F->rooms.routing);
    routing_on_elsewhere(F->rooms.routing, ask_router, NULL);
    char r1[64];
    open_for("상담 요청 🙏", r1);
    /* Not the router: asked, and no pass here. */
    assert_int_equal(asked, 1);
    assert_false(routing_busy(F->rooms.routing));
    assigned_to(r1, "");
    /* The router hears the request and passes at once. */
    leads = true;
    routing_heard(F->rooms.routing);
    routing_wait();
    assigned_to(r1, "agent1");
    /* The router's own triggers never ask. */
    char r2[64];
    open_for("두 번째 🙏", r2);
    routing_wait();
    assert_int_equal(asked, 1);
    assigned_to(r2, "agent1");
}

static void routing_least_busy_and_limits(void **state)
{
    (void)state;
    F->agents[0] = "agent1", F->agents[1] = "agent2";
    F->online[0] = "agent1", F->online[1] = "agent2";
    F->away[0] = "agent2";
    /* agent1 already holds one by hand */
    char held[64];
    open_for("held", held);
    struct got g;
    AWAIT(support_claim(&F->rooms, held, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    start_routing(SUPPORT_ASSIGN_LEAST_BUSY, 2);
    char r1[64], r2[64], r3[64];
    open_for("안녕하세요 1", r1);
    open_for("안녕하세요 2", r2);
    routing_wait();
    /* agent2 is away: agent1 takes one, up to the limit; the other waits */
    assigned_to(r1, "agent1");
    assigned_to(r2, "");
    /* agent2 comes back: the waiting room goes to them at once */
    F->away[0] = NULL;
    routing_kick(F->rooms.routing);
    routing_wait();
    assigned_to(r2, "agent2");
    /* least busy: agent2 (1) over agent1 (2, at the limit) */
    open_for("안녕하세요 3", r3);
    routing_wait();
    assigned_to(r3, "agent2");
    char r4[64];
    open_for("안녕하세요 4", r4);
    routing_wait();
    assigned_to(r4, ""); /* everyone at the limit: it waits */
    /* an agent completes a chat: the queued room is theirs */
    AWAIT(support_complete(&F->rooms, held, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    routing_wait();
    assigned_to(r4, "agent1");
}

/* A claim by hand lands while a pass is under way, after the pass read the
 * agents' loads and before it listed the queue (the test's presence port
 * starts it as the pass asks for the agents; the memory plugin takes each
 * operation at its call): the storage, counting in the step that claims,
 * refuses the agent now at the limit, and the pass gives the room to the
 * next agent. */
static struct event *claim_between;
static bool claimed_between;

static void claim_by_hand_cb(void *ctx, chatd_status st, const struct chatd_room *room)
{
    (void)ctx, (void)room;
    assert_int_equal(st, CHATD_OK);
    claimed_between = true;
}

static void claim_by_hand(evutil_socket_t fd, short what, void *arg)
{
    (void)fd, (void)what;
    void *state;
    storage_ops(F->rooms.storage, &state)->room_claim(state, arg, "agent1", 1, claim_by_hand_cb, NULL);
}

static void each_agent_then_claim(const void *c, void (*fn)(void *fctx, const char *agent), void *fctx)
{
    each_agent(c, fn, fctx);
    if (claim_between) {
        event_active(claim_between, 0, 0);
        claim_between = NULL; /* once */
    }
}

static void routing_limit_decided_by_storage(void **state)
{
    (void)state;
    F->agents[0] = "agent1", F->agents[1] = "agent2";
    F->online[0] = "agent1", F->online[1] = "agent2";
    char held[64], r1[64];
    open_for("손님😀1", held);
    open_for("손님😀2", r1);
    struct event *ev = event_new(F->srv.base, -1, 0, claim_by_hand, held);
    claim_between = ev;
    claimed_between = false;
    F->rooms.presence.each_agent = each_agent_then_claim;
    start_routing(SUPPORT_ASSIGN_ROUND_ROBIN, 1);
    routing_kick(F->rooms.routing);
    routing_wait();
    event_free(ev);
    assert_true(claimed_between);
    struct got g;
    AWAIT(rooms_look_up(&F->rooms, held, NULL, got_room, &g), g);
    assert_string_equal(g.agent, "agent1");
    /* The pass picked agent1 (round robin, a load of 0 as it read it); the
     * storage refused; agent2 got the room. */
    AWAIT(rooms_look_up(&F->rooms, r1, NULL, got_room, &g), g);
    assert_string_equal(g.agent, "agent2");
    AWAIT(support_queue(&F->rooms, "agent1", AGENT, true, got_rooms, &g), g);
    assert_int_equal(g.n, 1); /* never above the limit */
}

static void routing_leaves_manual_claims(void **state)
{
    (void)state;
    F->agents[0] = "agent1";
    F->online[0] = "agent1";
    F->away[0] = "agent1";
    start_routing(SUPPORT_ASSIGN_ROUND_ROBIN, 0);
    char r1[64];
    open_for("고객", r1);
    routing_wait();
    assigned_to(r1, "");
    /* an away agent still claims by hand */
    struct got g;
    AWAIT(support_claim(&F->rooms, r1, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_string_equal(g.agent, "agent1");
}

struct got_agents {
    bool done;
    enum room_status status;
    size_t n, limit;
    char line[200]; /* "name status open;" each */
};

static void got_agents(void *ctx, const struct room_answer *a, const struct agent_view *agents, size_t n,
                       size_t limit)
{
    struct got_agents *g = ctx;
    g->done = true;
    g->status = a->status;
    g->n = n;
    g->limit = limit;
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(g->line);
        snprintf(g->line + len, sizeof g->line - len, "%s %s %zu;", agents[i].name,
                 agent_status_name(agents[i].status), agents[i].open);
    }
}

static void agents_loads(void **state)
{
    (void)state;
    F->agents[0] = "agent2", F->agents[1] = "agent1";
    F->online[0] = "agent1";
    F->rooms.max_chats_per_agent = 3;
    char r1[64], r2[64];
    open_for("고객😀", r1);
    open_for("손님", r2);
    struct got g0;
    AWAIT(support_claim(&F->rooms, r1, "agent1", AGENT, got_room, &g0), g0);
    AWAIT(support_claim(&F->rooms, r2, "agent2", AGENT, got_room, &g0), g0);
    AWAIT(support_complete(&F->rooms, r2, "agent2", AGENT, got_room, &g0), g0);
    struct got_agents g;
    AWAIT(agents_list(&F->rooms, USER, got_agents, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(agents_list(&F->rooms, CHATD_ROLE_ADMIN, got_agents, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    /* sorted by name; a completed chat is not open */
    assert_string_equal(g.line, "agent1 online 1;agent2 offline 0;");
    assert_int_equal(g.limit, 3);
}

static void agents_status_and_list(void **state)
{
    (void)state;
    F->agents[0] = "agent2", F->agents[1] = "agent1";
    F->online[0] = "agent1";
    struct got g;
    AWAIT(agents_set_status(&F->rooms, "고객", USER, "away", got_done, &g), g);
    assert_int_equal(g.status, ROOM_FORBIDDEN);
    AWAIT(agents_set_status(&F->rooms, "agent1", AGENT, "busy", got_done, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    assert_int_equal(agent_status_of(&F->rooms, "agent1"), AGENT_ONLINE);
    assert_int_equal(agent_status_of(&F->rooms, "agent2"), AGENT_OFFLINE);
    F->away[0] = "agent1";
    assert_int_equal(agent_status_of(&F->rooms, "agent1"), AGENT_AWAY);

    /* Changes are told once each; an agent never told counts as offline. */
    F->rooms.availability = availability_new();
    assert_non_null(F->rooms.availability);
    availability_changed(&F->rooms);
    assert_int_equal(F->nevents, 1);
    assert_true(has_event("agent agent1 away"));
    availability_changed(&F->rooms);
    assert_int_equal(F->nevents, 1);
    F->away[0] = NULL;
    F->online[1] = "agent2";
    availability_changed(&F->rooms);
    assert_true(has_event("agent agent1 online"));
    assert_true(has_event("agent agent2 online"));
    F->online[0] = "agent2", F->online[1] = NULL;
    availability_changed(&F->rooms);
    assert_true(has_event("agent agent1 offline"));
    assert_int_equal(F->nevents, 4);
}

/* [support] skills: a room with a topic goes to an agent with that skill
 * only, and waits for one without holding up the rooms behind it; a room
 * without a topic, or with one nobody has, goes to anyone. Places in the
 * queue are counted per topic. */
static void routing_by_skills(void **state)
{
    (void)state;
    struct support_skills skills;
    char why[200];
    assert_int_equal(support_skills_parse("alice:billing; bob:tech", &skills, why, sizeof why), 0);
    F->rooms.skills = &skills;
    F->agents[0] = "alice", F->agents[1] = "bob";
    start_routing(SUPPORT_ASSIGN_ROUND_ROBIN, 1);
    /* Nobody online yet: places per topic. */
    char b1[64], b2[64], t1[64], n1[64], l1[64];
    open_about("고객 b1", "billing", b1);
    open_about("고객 b2", "billing", b2);
    open_about("고객 t1", "tech", t1);
    open_about("고객 n1", NULL, n1);
    open_about("고객 l1", "legal", l1); /* nobody has it: the general line */
    routing_wait();
    assert_true(has_event("position 고객 b1 1 -1"));
    assert_true(has_event("position 고객 b2 2 -1"));
    assert_true(has_event("position 고객 t1 1 -1"));
    assert_true(has_event("position 고객 n1 1 -1"));
    assert_true(has_event("position 고객 l1 2 -1"));
    /* Both online, one chat each: bob would be next in turn for b1's
     * successor, but only alice has billing; tech goes to bob past the
     * billing room that waits. */
    F->online[0] = "alice", F->online[1] = "bob";
    routing_kick(F->rooms.routing);
    routing_wait();
    assigned_to(b1, "alice");
    assigned_to(b2, "");
    assigned_to(t1, "bob");
    assigned_to(n1, "");
    assert_int_equal(count_events("position 고객 n1 1 "), 1);
    /* alice is free again: the oldest room she may take is b2. */
    struct got g;
    AWAIT(support_complete(&F->rooms, b1, "alice", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    routing_wait();
    assigned_to(b2, "alice");
    /* bob is free: the room without a topic is his, then the one nobody has
     * the skill for, to whoever is free. */
    AWAIT(support_complete(&F->rooms, t1, "bob", AGENT, got_room, &g), g);
    routing_wait();
    assigned_to(n1, "bob");
    AWAIT(support_complete(&F->rooms, b2, "alice", AGENT, got_room, &g), g);
    routing_wait();
    assigned_to(l1, "alice");
    /* alice is free, bob gone: a tech room waits all the same; a claim by
     * hand ignores skills. */
    AWAIT(support_complete(&F->rooms, l1, "alice", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    char t2[64];
    F->online[1] = NULL;
    /* [support] topic_wait: an hour is not over in this pass, so alice,
     * free but without tech, still does not get it (a timer is armed for
     * the hour's end, and goes with the routing). */
    F->rooms.topic_wait_ms = 3600000;
    open_about("고객 t2", "tech", t2);
    routing_wait();
    assigned_to(t2, "");
    F->rooms.topic_wait_ms = 0;
    AWAIT(support_claim(&F->rooms, t2, "carol", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_string_equal(g.topic, "tech");
    /* No topic: refused before anything is stored. */
    const char *bad[] = {"Billing", "빌링", "billing!", "", "a b", "abcdefghijklmnopqrstuvwxyz-01_234"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        AWAIT(support_open(&F->rooms, "고객 bad😀", bad[i], got_room, &g), g);
        assert_int_equal(g.status, ROOM_BAD_REQUEST);
        assert_true(g.why[0]);
    }
    routing_wait();
    F->rooms.skills = NULL;
    support_skills_free(&skills);
}

/* [support] topic_wait: a billing room goes to bob (tech) only once it
 * has waited that long since it entered the queue, which the routing takes
 * from the customer's first-response wait; alice (billing), available in
 * the same pass, comes first. Entry times are given, nothing sleeps. */
static void routing_topic_wait(void **state)
{
    (void)state;
    struct support_skills skills;
    char why[200];
    assert_int_equal(support_skills_parse("alice:billing; bob:tech", &skills, why, sizeof why), 0);
    F->rooms.skills = &skills;
    F->rooms.first_response = first_response_new(&F->rooms, F->srv.base, 0);
    assert_non_null(F->rooms.first_response);
    F->agents[0] = "alice", F->agents[1] = "bob";
    F->online[0] = "bob";
    start_routing(SUPPORT_ASSIGN_ROUND_ROBIN, 0);
    char b1[64], b2[64], n1[64];
    open_about("고객 빌링😀", "billing", b1);
    routing_wait();
    assigned_to(b1, "");
    assert_true(has_event("position 고객 빌링😀 1 -1"));
    /* An hour's wait, just begun: it still waits for alice. */
    F->rooms.topic_wait_ms = 3600000;
    routing_kick(F->rooms.routing);
    routing_wait();
    assigned_to(b1, "");
    /* It entered the queue two hours ago (sent back on another instance,
     * say): bob takes it now, and it keeps its topic. */
    int64_t now = clock_wall_ms();
    first_response_wait(F->rooms.first_response, b1, "고객 빌링😀", now - 7200000, 0, false);
    routing_kick(F->rooms.routing);
    routing_wait();
    assigned_to(b1, "bob");
    struct got g;
    AWAIT(rooms_look_up(&F->rooms, b1, NULL, got_room, &g), g);
    assert_string_equal(g.topic, "billing");
    /* The end of its wait moved nobody's place: one position told. */
    assert_int_equal(count_events("position 고객 빌링😀 "), 1);
    /* alice takes a room without a topic: bob is next in turn. */
    F->online[1] = "alice";
    open_about("고객 n1", NULL, n1);
    routing_wait();
    assigned_to(n1, "alice");
    /* alice gone, a billing room waits; past its wait when she is back,
     * it is hers all the same, not the next in turn's. */
    F->online[1] = NULL;
    open_about("고객 b2", "billing", b2);
    routing_wait();
    assigned_to(b2, "");
    first_response_wait(F->rooms.first_response, b2, "고객 b2", now - 7200000, 0, false);
    F->online[1] = "alice";
    routing_kick(F->rooms.routing);
    routing_wait();
    assigned_to(b2, "alice");
    F->rooms.topic_wait_ms = 0;
    F->rooms.skills = NULL;
    support_skills_free(&skills);
}

static void queue_positions(void **state)
{
    (void)state;
    F->agents[0] = "agent1";
    start_routing(SUPPORT_ASSIGN_LEAST_BUSY, 1);
    char r1[64], r2[64], r3[64];
    open_for("고객1", r1);
    open_for("고객2", r2);
    open_for("고객3", r3);
    routing_wait();
    /* Nobody online: each hears their place, no estimate yet. */
    assert_true(has_event("position 고객1 1 -1"));
    assert_true(has_event("position 고객2 2 -1"));
    assert_true(has_event("position 고객3 3 -1"));
    /* A place told once: another pass tells nothing new. */
    size_t before = F->nevents;
    routing_kick(F->rooms.routing);
    routing_wait();
    assert_int_equal(F->nevents, before);
    /* agent1 connects and takes the first: the others move up, with an
     * estimate from the wait just seen. */
    F->online[0] = "agent1";
    routing_kick(F->rooms.routing);
    routing_wait();
    assigned_to(r1, "agent1");
    assert_int_equal(count_events("position 고객2 1 "), 1);
    assert_int_equal(count_events("position 고객3 2 "), 1);
    assert_false(has_event("position 고객2 1 -1"));
    assert_int_equal(F->metrics.support_queue, 2);
    uint64_t observed = 0;
    for (size_t i = 0; i < 10; i++)
        observed += F->metrics.assign_wait[i];
    assert_int_equal(observed, 1);
    /* The estimate: the position times the mean of recent waits. */
    struct queue_position *q = queue_position_new();
    assert_int_equal(queue_position_estimate(q, 1), -1);
    queue_position_assigned(q, 1000);
    queue_position_assigned(q, 3000);
    queue_position_assigned(q, -5);
    assert_int_equal(queue_position_estimate(q, 3), 4000);
    queue_position_free(q);
}

static void stored(void *ctx, chatd_status st, const struct chatd_room *room)
{
    (void)room;
    assert_int_equal(st, CHATD_OK);
    *(bool *)ctx = true;
}

/* A support room opened at opened_ms and claimed by agent at assigned_ms,
 * on another instance, say: straight into the storage, times given. */
static void support_room_at(const char *customer, int64_t opened_ms, const char *agent, int64_t assigned_ms,
                            char out[64])
{
    char id[40], key[600];
    room_new_id(id);
    snprintf(out, 64, "%s", id);
    const char *members[] = {customer};
    struct chatd_room room = {.id = id, .kind = CHATD_ROOM_SUPPORT, .owner = customer, .created_ms = opened_ms,
                              .state = CHATD_ROOM_OPEN, .members = members, .nmembers = 1};
    support_unique_key(key, sizeof key, customer);
    void *st;
    const struct chatd_storage_ops *ops = storage_ops(F->rooms.storage, &st);
    bool done = false;
    ops->room_create(st, &room, key, stored, &done);
    run_until(&done);
    done = false;
    ops->room_claim(st, id, agent, assigned_ms, stored, &done);
    run_until(&done);
}

/* The estimate told to customer at position, from the recorded events. */
static long long estimate_told(const char *customer, size_t position)
{
    char prefix[160];
    snprintf(prefix, sizeof prefix, "position %s %zu ", customer, position);
    long long wait_ms = -2;
    for (size_t i = 0; i < F->nevents; i++)
        if (strncmp(F->events[i], prefix, strlen(prefix)) == 0)
            wait_ms = strtoll(F->events[i] + strlen(prefix), NULL, 10);
    return wait_ms;
}

/* The assignment waits (both histograms, the queue estimate) count from
 * the room's latest entry into the queue, not from its opening: a room
 * opened two hours ago and with an agent for the last hour waits from its
 * transfer back, then from each reopen, not for hours, whether the routing,
 * an agent's claim or a supervisor assigns it. Nothing sleeps: a wait here
 * is well under a second, one from the opening two hours. */
static void assignment_waits_from_queue_entry(void **state)
{
    (void)state;
    F->rooms.first_response = first_response_new(&F->rooms, F->srv.base, 0);
    assert_non_null(F->rooms.first_response);
    F->rooms.reopen_window_ms = 3600000;
    F->agents[0] = "agent1", F->agents[1] = "agent2";
    F->online[0] = "agent1";
    int64_t now = clock_wall_ms();
    char back[64], behind[64];
    support_room_at("고객 돌아옴😀", now - 7200000, "agent1", now - 3600000, back);
    struct got g;
    /* Handed back to the queue; another customer comes after it. */
    assert_int_equal(transfer_as(back, "agent1", AGENT, NULL, NULL, &g), ROOM_OK);
    assert_int_equal(g.state, CHATD_ROOM_OPEN);
    open_for("고객 뒤😀", behind);
    /* The routing gives it to agent1 (one chat at most): its wait is the
     * one since its return, and so is the estimate of the room behind. */
    start_routing(SUPPORT_ASSIGN_ROUND_ROBIN, 1);
    routing_kick(F->rooms.routing);
    routing_wait();
    assigned_to(back, "agent1");
    assigned_to(behind, "");
    assert_int_equal(histogram_count(F->metrics.assign_wait), 1);
    assert_int_equal(F->metrics.assign_wait[0], 1); /* le 1 s */
    assert_int_equal(histogram_count(F->metrics.support_wait), 1);
    assert_int_equal(F->metrics.support_wait[0], 1);
    long long estimate = estimate_told("고객 뒤😀", 1);
    assert_true(estimate >= 0 && estimate <= 1000);

    /* Completed: the room behind goes to agent1 (a wait from its opening,
     * its only entry). Reopened by its customer while agent1 is away: back
     * in the queue, agent2 claims it by hand, its wait since the reopen. */
    AWAIT(support_complete(&F->rooms, back, "agent1", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    routing_wait();
    assigned_to(behind, "agent1");
    F->away[0] = "agent1";
    assert_int_equal(send_text(back, "고객 돌아옴😀", "또 왔어요 😀", NULL), ROOM_OK);
    routing_wait();
    assigned_to(back, "");
    AWAIT(support_claim(&F->rooms, back, "agent2", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(histogram_count(F->metrics.support_wait), 3);
    assert_int_equal(F->metrics.support_wait[0], 3);

    /* Reopened again (agent2 offline: into the queue); a supervisor gives
     * it to agent2, now online: a wait since this reopen too. */
    AWAIT(support_complete(&F->rooms, back, "agent2", AGENT, got_room, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(send_text(back, "고객 돌아옴😀", "한 번 더 🙏", NULL), ROOM_OK);
    routing_set_mode(F->rooms.routing, SUPPORT_ASSIGN_MANUAL);
    routing_wait();
    assigned_to(back, "");
    F->online[1] = "agent2";
    assert_int_equal(transfer_as(back, "감독", CHATD_ROLE_SUPERVISOR, "agent2", NULL, &g), ROOM_OK);
    assert_string_equal(g.agent, "agent2");
    assert_int_equal(histogram_count(F->metrics.support_wait), 4);
    assert_int_equal(F->metrics.support_wait[0], 4);
    assert_true(F->metrics.support_wait_sum < 4.0);
    assert_int_equal(histogram_count(F->metrics.assign_wait), 2);
    assert_int_equal(F->metrics.assign_wait[0], 2);
}

static void got_found(void *ctx, const struct room_answer *a, const struct chatd_message *msgs, size_t n,
                      const char *next)
{
    struct got *g = ctx;
    take_answer(g, a);
    keep_messages(g, msgs, n);
    for (size_t i = 0; i < n && i < 128; i++)
        snprintf(g->rooms_of[i], sizeof g->rooms_of[i], "%s", msgs[i].room);
    snprintf(g->next_cursor, sizeof g->next_cursor, "%s", next ? next : "");
}

/* Search: the rooms a caller may read and no other, a page's cursor, the
 * text rule over JSON bodies, and refusals before any storage call. */
static void search_rights_and_pages(void **state)
{
    (void)state;
    char mine[64], theirs[64], waiting[64];
    make_group("alice", (const char *[]){"bob", NULL}, mine);
    make_group("mallory", (const char *[]){NULL}, theirs);
    open_for("carol", waiting);
    for (int i = 1; i <= 5; i++) {
        char text[64];
        snprintf(text, sizeof text, "찾기 %d " KOREAN, i);
        assert_int_equal(send_text(mine, "bob", text, NULL), ROOM_OK);
    }
    assert_int_equal(send_text(theirs, "mallory", "찾기 secret", NULL), ROOM_OK);
    assert_int_equal(send_text(waiting, "carol", "찾기 help", NULL), ROOM_OK);
    uint64_t seq = 0;
    assert_int_equal(send_typed(mine, "alice", "application/json", "{\"text\":\"json 찾기\",\"key\":\"hidden\"}", &seq),
                     ROOM_OK);

    struct got g;
    struct search_request req = {.query = "  찾기 ", .user = "alice", .roles = USER, .limit_set = true, .limit = 4};
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 4);
    assert_int_equal(g.seqs[0], seq); /* newest first: the JSON one */
    assert_string_equal(g.rooms_of[0], mine);
    assert_true(g.next_cursor[0]);
    char cursor[SEARCH_CURSOR_MAX];
    snprintf(cursor, sizeof cursor, "%s", g.next_cursor);
    req.cursor = cursor;
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 2); /* 6 of alice's rooms: mallory's and carol's are not hers */
    assert_int_equal(g.seqs[1], 1);
    assert_string_equal(g.next_cursor, "");
    /* Agents read the queue too; a member of none of them nothing. */
    req = (struct search_request){.query = "찾기", .user = "agent9", .roles = AGENT};
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.rooms_of[0], waiting);
    req = (struct search_request){.query = "찾기", .user = "nobody", .roles = USER};
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 0);
    /* One room: theirs is not found, as its history is not. */
    req = (struct search_request){.query = "찾기", .room_id = theirs, .user = "alice", .roles = USER};
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    req.room_id = mine;
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.n, 6);
    /* A JSON body's keys are no text. */
    req.query = "hidden";
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 0);
    /* Refusals. */
    const char *bad_queries[] = {NULL, "", "x", " 찾 ", "a\tb\x01"};
    for (size_t i = 0; i < sizeof bad_queries / sizeof *bad_queries; i++) {
        req = (struct search_request){.query = bad_queries[i], .user = "alice", .roles = USER};
        AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
        assert_int_equal(g.status, ROOM_BAD_REQUEST);
    }
    req = (struct search_request){.query = "찾기", .user = "alice", .roles = USER, .cursor = "1.x.r"};
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    req = (struct search_request){.query = "찾기", .user = "alice", .roles = USER, .limit_set = true,
                                  .limit = SEARCH_PAGE_MAX + 1};
    AWAIT(search_messages(&F->rooms, &req, got_found, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
}

/* ------------------------------------------------------------ presence */

struct got_presence {
    bool done;
    enum room_status status;
    size_t n;
    char lines[8][96]; /* "user status last_seen" */
};

static void got_presence_cb(void *ctx, const struct room_answer *a, const struct presence_entry *e, size_t n)
{
    struct got_presence *g = ctx;
    g->done = true;
    g->status = a->status;
    g->n = n;
    for (size_t i = 0; i < n && i < 8; i++)
        snprintf(g->lines[i], sizeof g->lines[i], "%s %s %lld", e[i].user, user_status_name(e[i].status),
                 (long long)e[i].last_seen_ms);
}

static bool has_line(const struct got_presence *g, const char *line)
{
    for (size_t i = 0; i < g->n && i < 8; i++)
        if (strcmp(g->lines[i], line) == 0)
            return true;
    return false;
}

/* Run the loop until n events starting with prefix were recorded. */
static void run_until_events(const char *prefix, size_t n)
{
    for (int i = 0; count_events(prefix) < n && i < 100000; i++)
        event_base_loop(F->srv.base, EVLOOP_ONCE);
    assert_int_equal(count_events(prefix), n);
}

static void presence_seen_by_room_sharers_only(void **state)
{
    (void)state;
    char team[64], pair[64], other[64];
    make_group("alice", (const char *[]){"bob", "민지", NULL}, team);
    make_group("alice", (const char *[]){"민지", NULL}, pair); /* a second room alice and 민지 share */
    make_group("carol", (const char *[]){"dana", NULL}, other);
    const char *online[] = {"alice", "bob", "민지", "carol", "dana"};
    memcpy(F->online, online, sizeof online);
    F->users_away[0] = "bob";
    F->nevents = 0;

    /* A change is told once to each online sharer, however many rooms they
     * share, and to the user; never to strangers. */
    user_presence_tell(&F->rooms, "민지", USER_AWAY, 0);
    run_until_events("presence to ", 3);
    assert_true(has_event("presence to 민지: 민지 away 0"));
    assert_true(has_event("presence to alice: 민지 away 0"));
    assert_true(has_event("presence to bob: 민지 away 0"));
    assert_int_equal(F->metrics.presence_changes, 1);
    assert_int_equal(F->metrics.presence_events, 3);
    /* An offline sharer is not told. */
    F->online[1] = "carol"; /* bob gone */
    F->nevents = 0;
    user_presence_tell(&F->rooms, "민지", USER_OFFLINE, LAST_SEEN);
    run_until_events("presence to ", 2);
    assert_false(has_event("presence to bob: 민지 offline 1700000000123"));
    F->online[1] = "bob";

    /* A room's members, for one who may see the room. */
    struct got_presence g;
    AWAIT(user_presence_room(&F->rooms, team, "bob", USER, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 3);
    assert_true(has_line(&g, "alice online 0"));
    assert_true(has_line(&g, "bob away 0"));
    assert_true(has_line(&g, "민지 online 0"));
    F->online[2] = "carol"; /* 민지 gone: offline, last seen */
    AWAIT(user_presence_room(&F->rooms, team, "alice", USER, got_presence_cb, &g), g);
    assert_true(has_line(&g, "민지 offline 1700000000123"));
    AWAIT(user_presence_room(&F->rooms, team, "dana", USER, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);
    AWAIT(user_presence_room(&F->rooms, "r-none", "alice", USER, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_NOT_FOUND);

    /* Named users: only those sharing a room with the caller, and the
     * caller; repeats once; strangers left out. */
    const char *asked[] = {"bob", "dana", "bob", "alice", "nobody"};
    AWAIT(user_presence_users(&F->rooms, "alice", asked, 5, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 2);
    assert_string_equal(g.lines[0], "bob away 0");
    assert_string_equal(g.lines[1], "alice online 0");
    AWAIT(user_presence_users(&F->rooms, "dana", (const char *[]){"alice", "carol"}, 2, got_presence_cb, &g), g);
    assert_int_equal(g.n, 1);
    assert_string_equal(g.lines[0], "carol online 0");
    /* Refusals. */
    AWAIT(user_presence_users(&F->rooms, "alice", asked, 0, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    AWAIT(user_presence_users(&F->rooms, "alice", (const char *[]){"bob", ""}, 2, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    const char *many[PRESENCE_USERS_MAX + 1];
    for (size_t i = 0; i <= PRESENCE_USERS_MAX; i++)
        many[i] = "bob";
    AWAIT(user_presence_users(&F->rooms, "alice", many, PRESENCE_USERS_MAX + 1, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_BAD_REQUEST);
    AWAIT(user_presence_users(&F->rooms, "alice", many, PRESENCE_USERS_MAX, got_presence_cb, &g), g);
    assert_int_equal(g.status, ROOM_OK);
    assert_int_equal(g.n, 1);

    /* One's own choice: away or online, while connected. */
    struct got d;
    F->nevents = 0;
    AWAIT(user_presence_choose(&F->rooms, "alice", "away", got_done, &d), d);
    assert_int_equal(d.status, ROOM_OK);
    assert_true(has_event("user alice away"));
    AWAIT(user_presence_choose(&F->rooms, "alice", "online", got_done, &d), d);
    assert_true(has_event("user alice back"));
    AWAIT(user_presence_choose(&F->rooms, "alice", "busy", got_done, &d), d);
    assert_int_equal(d.status, ROOM_BAD_REQUEST);
    AWAIT(user_presence_choose(&F->rooms, "alice", NULL, got_done, &d), d);
    assert_int_equal(d.status, ROOM_BAD_REQUEST);
    AWAIT(user_presence_choose(&F->rooms, "민지", "away", got_done, &d), d);
    assert_int_equal(d.status, ROOM_CONFLICT);
    (void)pair, (void)other;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(support_states, setup, teardown),
        cmocka_unit_test_setup_teardown(claim_race, setup, teardown),
        cmocka_unit_test_setup_teardown(membership_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(history_cursors, setup, teardown),
        cmocka_unit_test_setup_teardown(replay_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(notification_decisions, setup, teardown),
        cmocka_unit_test_setup_teardown(read_marks_and_typing, setup, teardown),
        cmocka_unit_test_setup_teardown(erase_rights_and_events, setup, teardown),
        cmocka_unit_test(routing_picks),
        cmocka_unit_test_setup_teardown(routing_round_robin, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_asks_the_router_elsewhere, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_least_busy_and_limits, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_leaves_manual_claims, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_limit_decided_by_storage, setup, teardown),
        cmocka_unit_test_setup_teardown(agents_status_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(queue_positions, setup, teardown),
        cmocka_unit_test_setup_teardown(assignment_waits_from_queue_entry, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_by_skills, setup, teardown),
        cmocka_unit_test_setup_teardown(routing_topic_wait, setup, teardown),
        cmocka_unit_test_setup_teardown(agents_loads, setup, teardown),

        cmocka_unit_test_setup_teardown(content_types_stored, setup, teardown),
        cmocka_unit_test_setup_teardown(reply_to_validated, setup, teardown),
        cmocka_unit_test_setup_teardown(message_edits_and_deletes, setup, teardown),
        cmocka_unit_test_setup_teardown(reactions_of_members, setup, teardown),
        cmocka_unit_test(reaction_rules),
        cmocka_unit_test_setup_teardown(message_edit_window_and_managers, setup, teardown),
        cmocka_unit_test_setup_teardown(support_transfers, setup, teardown),
        cmocka_unit_test_setup_teardown(internal_notes, setup, teardown),
        cmocka_unit_test_setup_teardown(support_reopens, setup, teardown),
        cmocka_unit_test_setup_teardown(first_response_targets, setup, teardown),
        cmocka_unit_test_setup_teardown(first_response_shared, setup, teardown),
        cmocka_unit_test_setup_teardown(first_response_many, setup, teardown),
        cmocka_unit_test_setup_teardown(support_transcripts, setup, teardown),
        cmocka_unit_test_setup_teardown(support_ratings, setup, teardown),
        cmocka_unit_test(canned_rules),
        cmocka_unit_test_setup_teardown(canned_rights, setup, teardown),
        cmocka_unit_test_setup_teardown(search_rights_and_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(presence_seen_by_room_sharers_only, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
