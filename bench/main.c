/* chat-bench: options, the parent process, and the report. */
#include "bench.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <arpa/inet.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define SESSIONS_PER_PROCESS 15000   /* automatic --processes */
#define MAX_SESSIONS_PER_PROCESS 19900

struct options opt = {
    .login = "guest",
    .passcode = "guest",
    .vhost = "/",
    .sessions = 100,
    .scenario = SC_IDLE,
    .rooms = 10,
    .members = 10,
    .publishers = 1,
    .window = 8,
    .duration = 10,
    .warmup = 1,
    .drain = 5,
    .setup_timeout = 120,
    .body_size = 64,
    .prefix = "/topic/bench.",
    .concurrency = 500,
    .retries = 10,
    .idle_subs = 1,
    .readers = 1,
    .slow_readers = 1,
    .slow_rate = 64 * 1024,
    .count = 4000,
    .agents = 10,
    .agent_login = "agent%d",
    .think_time = 1,
};

#define DESK_RATE 10           /* desk's --rate unless given: rooms opened per second */
#define DESK_TIME_LIMIT 60     /* desk's -d unless given */

#define BLAST_BODY_SIZE 8192   /* blast's --body-size unless given */
#define BLAST_TIME_LIMIT 120   /* blast's -d unless given */

static const char *scenario_names[] = { "idle", "fanout", "pairs", "connect", "appends", "blast", "reconnect", "desk" };

static bool has_traffic(void)
{
    return opt.scenario == SC_FANOUT || opt.scenario == SC_PAIRS || opt.scenario == SC_APPENDS;
}

/* The transport, for people (long) or for the JSON lines. */
static const char *transport_name(bool longer)
{
    switch (opt.transport) {
    case TR_WS:
        return longer ? "WebSocket" : "ws";
    case TR_TCP:
        return longer ? "TCP" : "tcp";
    case TR_SOCKJS_WS:
        return longer ? "SockJS websocket" : "sockjs-ws";
    case TR_XHR_STREAMING:
        return longer ? "SockJS xhr-streaming" : "sockjs-xhr";
    }
    return "?";
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: chat-bench [OPTIONS]\n"
            "A STOMP 1.2 load generator for any STOMP server (chatd, RabbitMQ Web-STOMP, ...).\n\n"
            "  -u, --url URL              ws://HOST:PORT/PATH or tcp://HOST:PORT (default ws://127.0.0.1:8080/ws);\n"
            "                             SockJS at PATH: sockjs-ws://HOST:PORT/PATH (its websocket transport) or\n"
            "                             sockjs-xhr://HOST:PORT/PATH (xhr-streaming, sending with xhr_send)\n"
            "      --publish-url URL      publishing sessions connect here instead (same transport), e.g. another\n"
            "                             instance of a cluster; pairs become one-way (even sessions publish on this\n"
            "                             URL, odd ones subscribe on --url); fanout publishers' own copies are not\n"
            "                             latency samples\n"
            "      --login L              STOMP login; \"%%d\" is replaced by the session number (default guest)\n"
            "      --passcode P           STOMP passcode; \"%%d\" as for --login (default guest)\n"
            "      --users FILE           one \"login passcode\" (or login:passcode) a line; session i uses line i mod n\n"
            "      --vhost H              the CONNECT host header (RabbitMQ: the virtual host; default /)\n"
            "  -n, --sessions N           sessions in all (default 100)\n"
            "  -P, --processes P          worker processes, each with N/P sessions (default: one per %d sessions)\n"
            "  -s, --scenario S           idle | fanout | pairs | connect | appends | blast | reconnect | desk\n"
            "                             (default idle);\n"
            "                             reconnect: set up as connect, then drop every session at once and\n"
            "                             reconnect them all together; the report is that second set-up\n"
            "      --retries K            connect, reconnect: attempts after ERROR \"server busy, retry\", each after its\n"
            "                             retry-after header x a random 0.5-1.5 (default 10)\n"
            "      --room ID              appends: every session SENDs to /app/rooms/ID/send with a receipt and a\n"
            "                             client-id; --window unreceipted SENDs per session (or --rate); the\n"
            "                             RECEIPTs are the deliveries, SEND -> RECEIPT the latency\n"
            "      --rooms R              fanout: destinations (default 10)\n"
            "      --members M            fanout: subscribers of each room (default 10); member j of room r is\n"
            "                             session (r*M+j) mod N\n"
            "      --publishers K         fanout: publishers per room, its first K members (default 1)\n"
            "      --count M              blast: session 0 SENDs M messages to one destination as fast as its\n"
            "                             socket takes them, no window, no rate, the last one with a receipt\n"
            "                             (default 4000; --body-size defaults to %d here); the run ends when the\n"
            "                             publisher has that RECEIPT and every normal reader every message (or\n"
            "                             either is disconnected), or after -d (default %d s here)\n"
            "      --readers N            blast: sessions 1..N subscribe and read as fast as they can (default 1)\n"
            "      --slow-readers K       blast: K more subscribers that read at most --slow-read-rate (default 1)\n"
            "      --slow-read-rate B     blast: a slow reader's bytes/s; past it, it stops reading its socket\n"
            "                             until a timer resumes it (default 65536). -n is 1 + N + K\n"
            "      --rate R               messages/s over all publishers; 0 = flat out (default 0); desk: support\n"
            "                             rooms opened per second (default %d; 0 = all at once)\n"
            "  desk: -n customers each open one support room (POST /api/rooms) at --rate; --agents agents, connected\n"
            "  over STOMP, are given them by the server's routing, answer each at once and complete it\n"
            "  (POST /api/rooms/ID/complete) after --think-time; the run ends when every room is completed, or -d\n"
            "  seconds (default %d) after the last opening. Every customer and agent also subscribes to\n"
            "  /user/queue/notifications. -u tcp://HOST:PORT and --http-url http://HOST:PORT once per instance;\n"
            "  customer or agent i (from 1) uses instance (i-1) mod the number of instances.\n"
            "      --http-url URL         desk: the REST API of an instance\n"
            "      --agents M             desk: agents (default 10); --login/--passcode (or --users) are the customers\n"
            "                             (%%d = the customer's number, from 1)\n"
            "      --agent-login P        desk: an agent's login, %%d = the agent's number from 1 (default agent%%d)\n"
            "      --agent-passcode P     desk: as --agent-login (default: the same pattern)\n"
            "      --think-time S         desk: an agent completes a room S seconds after taking it (default 1)\n"
            "      --max-chats K          desk: the server's max_chats_per_agent; counts agents seen above it\n"
            "      --window W             flat out: messages in flight per publisher (default 8)\n"
            "  -d, --duration S           measured seconds; idle: how long the sessions are held; blast: the\n"
            "                             time limit (default 10; blast 120)\n"
            "      --warmup S             fanout/pairs: publishing before the measurement starts; desk: waiting\n"
            "                             between every session ready and the first opening (default 1)\n"
            "      --drain S              at most this long to wait for messages in flight (default 5)\n"
            "      --body-size B          message body bytes, at least the ~40 of timestamp and ids (default 64)\n"
            "      --destination-prefix P destinations are P room.R, P p.N, P idle.N, P blast (default /topic/bench.)\n"
            "      --source-addrs A-B     bind client sockets to these IPv4 addresses in turn, e.g.\n"
            "                             127.0.0.1-127.0.0.50 (or a comma list)\n"
            "      --concurrency C        set-ups in progress per process (default 500)\n"
            "      --setup-timeout S      give up on sessions not ready after S seconds (default 120)\n"
            "      --idle-subs K          idle: subscriptions per session (default 1; 0 = none)\n"
            "      --server-pid PID       report the server's RSS (/proc/PID/status) and CPU time\n"
            "      --json                 print one JSON object instead of the text report\n"
            "      --label TEXT           copied into the JSON result\n"
            "  -v, --verbose              print every ERROR frame and connection failure\n"
            "  -h, --help\n",
            SESSIONS_PER_PROCESS, BLAST_BODY_SIZE, BLAST_TIME_LIMIT, DESK_RATE, DESK_TIME_LIMIT);
}

static int fail(const char *fmt, const char *arg)
{
    fprintf(stderr, "chat-bench: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    return -1;
}

/* Parses a ws:// or tcp:// URL into e; every URL must use the same
 * transport (the first one sets it). http: an http:// URL instead (the
 * desk's REST calls), which leaves the transport alone. */
static int parse_url(const char *url, struct endpoint *e, bool first, bool http)
{
    const char *rest;
    enum transport t = opt.transport;
    snprintf(e->url, sizeof e->url, "%s", url);
    if (http) {
        if (strncmp(url, "http://", 7) != 0)
            return fail("expected http://HOST:PORT, got '%s'", url);
        rest = url + 7;
    } else if (strncmp(url, "ws://", 5) == 0) {
        t = TR_WS;
        rest = url + 5;
    } else if (strncmp(url, "tcp://", 6) == 0) {
        t = TR_TCP;
        rest = url + 6;
    } else if (strncmp(url, "sockjs-ws://", 12) == 0) {
        t = TR_SOCKJS_WS;
        rest = url + 12;
    } else if (strncmp(url, "sockjs-xhr://", 13) == 0) {
        t = TR_XHR_STREAMING;
        rest = url + 13;
    } else {
        return fail("expected ws://HOST:PORT/PATH, tcp://HOST:PORT, sockjs-ws://HOST:PORT/PATH or "
                    "sockjs-xhr://HOST:PORT/PATH, got '%s' (TLS is not supported)", url);
    }
    if (http)
        ;
    else if (first)
        opt.transport = t;
    else if (t != opt.transport)
        return fail("--publish-url must use the transport of --url ('%s')", url);
    size_t hl = strcspn(rest, ":/");
    if (hl == 0 || hl >= sizeof e->host)
        return fail("bad host in '%s'", url);
    memcpy(e->host, rest, hl);
    e->host[hl] = '\0';
    rest += hl;
    if (*rest == ':') {
        rest++;
        size_t pl = strcspn(rest, "/");
        if (pl == 0 || pl >= sizeof e->port)
            return fail("bad port in '%s'", url);
        memcpy(e->port, rest, pl);
        e->port[pl] = '\0';
        rest += pl;
    } else {
        snprintf(e->port, sizeof e->port, "%s", !http && t == TR_TCP ? "61613" : "80");
    }
    snprintf(e->path, sizeof e->path, "%s", *rest ? rest : "/");
    if (!http && (t == TR_SOCKJS_WS || t == TR_XHR_STREAMING)) {
        /* The SockJS endpoint: its URLs are PATH/{server}/{session}/{transport}. */
        size_t n = strlen(e->path);
        while (n > 0 && e->path[n - 1] == '/')
            e->path[--n] = '\0';
    }

    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    int r = getaddrinfo(e->host, e->port, &hints, &ai);
    if (r != 0)
        return fail("cannot resolve: %s", gai_strerror(r));
    memcpy(&e->addr, ai->ai_addr, ai->ai_addrlen);
    e->addrlen = ai->ai_addrlen;
    freeaddrinfo(ai);
    return 0;
}

static int parse_one_addr(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1)
        return fail("--source-addrs: '%s' is not an IPv4 address", s);
    *out = ntohl(a.s_addr);
    return 0;
}

static int parse_sources(const char *arg)
{
    char *copy = strdup(arg);
    if (!copy)
        return -1;
    int rc = -1;
    char *dash = strchr(copy, '-');
    if (dash) {
        *dash = '\0';
        uint32_t a, b;
        if (parse_one_addr(copy, &a) < 0 || parse_one_addr(dash + 1, &b) < 0)
            goto out;
        if (b < a || b - a >= 65536) {
            fail("--source-addrs: bad range '%s'", arg);
            goto out;
        }
        opt.nsrc = (size_t)(b - a) + 1;
        opt.src = calloc(opt.nsrc, sizeof *opt.src);
        if (!opt.src)
            goto out;
        for (size_t i = 0; i < opt.nsrc; i++)
            opt.src[i] = a + (uint32_t)i;
    } else {
        size_t n = 1;
        for (const char *p = copy; *p; p++)
            n += *p == ',';
        opt.src = calloc(n, sizeof *opt.src);
        if (!opt.src)
            goto out;
        for (char *save = NULL, *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
            if (parse_one_addr(t, &opt.src[opt.nsrc++]) < 0)
                goto out;
    }
    rc = 0;
out:
    free(copy);
    return rc;
}

static int load_users(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return fail("--users: cannot open %s", path);
    char line[1024];
    size_t cap = 0;
    int rc = 0;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *p = line + strspn(line, " \t");
        if (!*p || *p == '#')
            continue;
        size_t ll = strcspn(p, " \t:");
        if (!p[ll]) {
            rc = fail("--users: line without a passcode in %s", path);
            break;
        }
        p[ll] = '\0';
        char *pass = p + ll + 1;
        pass += strspn(pass, " \t");
        if (opt.nusers == cap) {
            cap = cap ? cap * 2 : 16;
            char **l = realloc(opt.user_login, cap * sizeof *l), **q;
            if (l)
                opt.user_login = l;
            q = realloc(opt.user_pass, cap * sizeof *q);
            if (q)
                opt.user_pass = q;
            if (!l || !q) {
                rc = -1;
                break;
            }
        }
        opt.user_login[opt.nusers] = strdup(p);
        opt.user_pass[opt.nusers] = strdup(pass);
        opt.nusers++;
        if (!opt.user_login[opt.nusers - 1] || !opt.user_pass[opt.nusers - 1]) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    if (rc == 0 && opt.nusers == 0)
        rc = fail("--users: no users in %s", path);
    return rc;
}

static void free_options(void)
{
    for (size_t i = 0; i < opt.nusers; i++) {
        free(opt.user_login[i]);
        free(opt.user_pass[i]);
    }
    free(opt.user_login);
    free(opt.user_pass);
    free(opt.src);
}

static int num(const char *name, const char *arg, double lo, double hi, double *out)
{
    char *e;
    errno = 0;
    double v = strtod(arg, &e);
    if (errno || e == arg || *e || v < lo || v > hi) {
        fprintf(stderr, "chat-bench: --%s: '%s' is not a number in [%g, %g]\n", name, arg, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

enum {
    O_LOGIN = 256, O_PASSCODE, O_USERS, O_VHOST, O_ROOMS, O_MEMBERS, O_PUBLISHERS, O_RATE, O_WINDOW,
    O_WARMUP, O_DRAIN, O_BODY, O_PREFIX, O_SRC, O_CONC, O_SETUP_TIMEOUT, O_IDLE_SUBS, O_PID, O_JSON, O_LABEL,
    O_PUB_URL, O_ROOM, O_COUNT, O_READERS, O_SLOW_READERS, O_SLOW_RATE, O_RETRIES,
    O_HTTP_URL, O_AGENTS, O_AGENT_LOGIN, O_AGENT_PASSCODE, O_THINK, O_MAX_CHATS,
};

static int parse_args(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "url", required_argument, NULL, 'u' },
        { "publish-url", required_argument, NULL, O_PUB_URL },
        { "room", required_argument, NULL, O_ROOM },
        { "count", required_argument, NULL, O_COUNT },
        { "readers", required_argument, NULL, O_READERS },
        { "slow-readers", required_argument, NULL, O_SLOW_READERS },
        { "slow-read-rate", required_argument, NULL, O_SLOW_RATE },
        { "login", required_argument, NULL, O_LOGIN },
        { "passcode", required_argument, NULL, O_PASSCODE },
        { "users", required_argument, NULL, O_USERS },
        { "vhost", required_argument, NULL, O_VHOST },
        { "sessions", required_argument, NULL, 'n' },
        { "processes", required_argument, NULL, 'P' },
        { "scenario", required_argument, NULL, 's' },
        { "rooms", required_argument, NULL, O_ROOMS },
        { "members", required_argument, NULL, O_MEMBERS },
        { "publishers", required_argument, NULL, O_PUBLISHERS },
        { "rate", required_argument, NULL, O_RATE },
        { "window", required_argument, NULL, O_WINDOW },
        { "duration", required_argument, NULL, 'd' },
        { "warmup", required_argument, NULL, O_WARMUP },
        { "drain", required_argument, NULL, O_DRAIN },
        { "body-size", required_argument, NULL, O_BODY },
        { "destination-prefix", required_argument, NULL, O_PREFIX },
        { "source-addrs", required_argument, NULL, O_SRC },
        { "concurrency", required_argument, NULL, O_CONC },
        { "setup-timeout", required_argument, NULL, O_SETUP_TIMEOUT },
        { "retries", required_argument, NULL, O_RETRIES },
        { "idle-subs", required_argument, NULL, O_IDLE_SUBS },
        { "server-pid", required_argument, NULL, O_PID },
        { "json", no_argument, NULL, O_JSON },
        { "label", required_argument, NULL, O_LABEL },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "http-url", required_argument, NULL, O_HTTP_URL },
        { "agents", required_argument, NULL, O_AGENTS },
        { "agent-login", required_argument, NULL, O_AGENT_LOGIN },
        { "agent-passcode", required_argument, NULL, O_AGENT_PASSCODE },
        { "think-time", required_argument, NULL, O_THINK },
        { "max-chats", required_argument, NULL, O_MAX_CHATS },
        { NULL, 0, NULL, 0 },
    };
    const char *url = "ws://127.0.0.1:8080/ws", *pub_url = NULL;
    const char *urls[DESK_MAX_INSTANCES], *http_urls[DESK_MAX_INSTANCES];
    int nurls = 0, nhttp = 0;
    int c;
    double v;
    bool body_set = false, rate_set = false;
    while ((c = getopt_long(argc, argv, "u:n:P:s:d:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'u':
            if (nurls == DESK_MAX_INSTANCES)
                return fail("--url: at most %s", "16");
            url = urls[nurls++] = optarg;
            break;
        case O_HTTP_URL:
            if (nhttp == DESK_MAX_INSTANCES)
                return fail("--http-url: at most %s", "16");
            http_urls[nhttp++] = optarg;
            break;
        case O_AGENTS:
            if (num("agents", optarg, 1, 100000, &v) < 0)
                return -1;
            opt.agents = (long)v;
            break;
        case O_AGENT_LOGIN: opt.agent_login = optarg; break;
        case O_AGENT_PASSCODE: opt.agent_passcode = optarg; break;
        case O_THINK:
            if (num("think-time", optarg, 0, 1e6, &opt.think_time) < 0)
                return -1;
            break;
        case O_MAX_CHATS:
            if (num("max-chats", optarg, 0, 10000, &v) < 0)
                return -1;
            opt.max_chats = (long)v;
            break;
        case O_PUB_URL: pub_url = optarg; break;
        case O_ROOM:
            if (!*optarg || strlen(optarg) > 200 ||
                strspn(optarg, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != strlen(optarg))
                return fail("--room: '%s' is not a room id", optarg);
            opt.room = optarg;
            break;
        case O_LOGIN: opt.login = optarg; break;
        case O_PASSCODE: opt.passcode = optarg; break;
        case O_USERS:
            if (load_users(optarg) < 0)
                return -1;
            break;
        case O_VHOST: opt.vhost = optarg; break;
        case 'n':
            if (num("sessions", optarg, 1, 10000000, &v) < 0)
                return -1;
            opt.sessions = (long)v;
            opt.sessions_set = true;
            break;
        case 'P':
            if (num("processes", optarg, 1, 1024, &v) < 0)
                return -1;
            opt.processes = (int)v;
            break;
        case 's': {
            size_t i;
            for (i = 0; i < sizeof scenario_names / sizeof *scenario_names; i++)
                if (strcmp(optarg, scenario_names[i]) == 0)
                    break;
            if (i == sizeof scenario_names / sizeof *scenario_names)
                return fail("--scenario: unknown '%s' (idle, fanout, pairs, connect, appends, blast, reconnect, desk)",
                            optarg);
            opt.scenario = (enum scenario)i;
            break;
        }
        case O_ROOMS:
            if (num("rooms", optarg, 1, 10000000, &v) < 0)
                return -1;
            opt.rooms = (long)v;
            break;
        case O_MEMBERS:
            if (num("members", optarg, 1, 10000000, &v) < 0)
                return -1;
            opt.members = (long)v;
            break;
        case O_PUBLISHERS:
            if (num("publishers", optarg, 1, 1000000, &v) < 0)
                return -1;
            opt.publishers = (int)v;
            break;
        case O_RATE:
            if (num("rate", optarg, 0, 1e9, &opt.rate) < 0)
                return -1;
            rate_set = true;
            break;
        case O_WINDOW:
            if (num("window", optarg, 1, 100000, &v) < 0)
                return -1;
            opt.window = (int)v;
            break;
        case 'd':
            if (num("duration", optarg, 0, 1e6, &opt.duration) < 0)
                return -1;
            opt.duration_set = true;
            break;
        case O_WARMUP:
            if (num("warmup", optarg, 0, 1e6, &opt.warmup) < 0)
                return -1;
            opt.warmup_set = true;
            break;
        case O_DRAIN:
            if (num("drain", optarg, 0, 1e6, &opt.drain) < 0)
                return -1;
            break;
        case O_BODY:
            if (num("body-size", optarg, 0, 4 * 1024 * 1024, &v) < 0)
                return -1;
            opt.body_size = (int)v;
            body_set = true;
            break;
        case O_COUNT:
            if (num("count", optarg, 1, 1e9, &v) < 0)
                return -1;
            opt.count = (long)v;
            break;
        case O_READERS:
            if (num("readers", optarg, 0, 100000, &v) < 0)
                return -1;
            opt.readers = (long)v;
            break;
        case O_SLOW_READERS:
            if (num("slow-readers", optarg, 0, 100000, &v) < 0)
                return -1;
            opt.slow_readers = (long)v;
            break;
        case O_SLOW_RATE:
            if (num("slow-read-rate", optarg, 1, 1e12, &opt.slow_rate) < 0)
                return -1;
            break;
        case O_PREFIX: opt.prefix = optarg; break;
        case O_SRC:
            if (parse_sources(optarg) < 0)
                return -1;
            break;
        case O_CONC:
            if (num("concurrency", optarg, 1, 1000000, &v) < 0)
                return -1;
            opt.concurrency = (int)v;
            break;
        case O_RETRIES:
            if (num("retries", optarg, 0, 1000, &v) < 0)
                return -1;
            opt.retries = (int)v;
            break;
        case O_SETUP_TIMEOUT:
            if (num("setup-timeout", optarg, 0.001, 1e6, &opt.setup_timeout) < 0)
                return -1;
            break;
        case O_IDLE_SUBS:
            if (num("idle-subs", optarg, 0, 256, &v) < 0)
                return -1;
            opt.idle_subs = (int)v;
            break;
        case O_PID:
            if (num("server-pid", optarg, 1, INT_MAX, &v) < 0)
                return -1;
            opt.server_pid = (pid_t)v;
            break;
        case O_JSON: opt.json = true; break;
        case O_LABEL: opt.label = optarg; break;
        case 'v': opt.verbose++; break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc)
        return fail("unexpected argument '%s'", argv[optind]);
    if (opt.scenario == SC_DESK) {
        if (pub_url || opt.room)
            return fail("--publish-url and --room are not for desk%s", "");
        if (nurls == 0 || nhttp != nurls)
            return fail("desk needs -u tcp://HOST:PORT and --http-url http://HOST:PORT for each instance, "
                        "as often as each other%s", "");
        for (int i = 0; i < nurls; i++) {
            if (parse_url(urls[i], &opt.desk_stomp[i], i == 0, false) < 0 ||
                parse_url(http_urls[i], &opt.desk_http[i], false, true) < 0)
                return -1;
            if (opt.transport != TR_TCP)
                return fail("desk speaks STOMP over tcp:// only, got '%s'", urls[i]);
        }
        opt.desk_instances = nurls;
        if (!opt.nusers && !strstr(opt.login, "%d"))
            return fail("desk: every customer needs a user of their own: --login with \"%%d\", or --users%s", "");
        if (!strstr(opt.agent_login, "%d"))
            return fail("desk: --agent-login needs \"%%d\" (agent number, from 1)%s", "");
        if (!opt.agent_passcode)
            opt.agent_passcode = opt.agent_login;
        if (!rate_set)
            opt.rate = DESK_RATE;
        if (!opt.duration_set)
            opt.duration = DESK_TIME_LIMIT;
        if (!opt.warmup_set)
            opt.warmup = 1;
        opt.ep[EP_MAIN] = opt.desk_stomp[0];
        opt.ep[EP_PUB] = opt.ep[EP_MAIN];
        opt.processes = 1;
        return 0;
    }
    if (nurls > 1)
        return fail("-u more than once is for --scenario desk%s", "");
    if (nhttp)
        return fail("--http-url is for --scenario desk%s", "");
    if (parse_url(url, &opt.ep[EP_MAIN], true, false) < 0)
        return -1;
    opt.ep[EP_PUB] = opt.ep[EP_MAIN];
    if (pub_url) {
        if (parse_url(pub_url, &opt.ep[EP_PUB], false, false) < 0)
            return -1;
        opt.split = true;
    }
    if (opt.nsrc && (opt.ep[EP_MAIN].addr.ss_family != AF_INET || opt.ep[EP_PUB].addr.ss_family != AF_INET))
        return fail("--source-addrs needs an IPv4 server address%s", "");
    if (opt.scenario == SC_APPENDS && !opt.room)
        return fail("--scenario appends needs --room ID%s", "");
    if (opt.scenario != SC_APPENDS && opt.room)
        return fail("--room is for --scenario appends%s", "");
    if (opt.split && opt.scenario != SC_PAIRS && opt.scenario != SC_FANOUT)
        return fail("--publish-url is for the pairs and fanout scenarios%s", "");
    opt.run_id = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 40);
    if (opt.scenario == SC_FANOUT) {
        if (opt.members > opt.sessions)
            return fail("--members must not exceed --sessions%s", "");
        if (opt.publishers > opt.members)
            return fail("--publishers must not exceed --members%s", "");
        if (opt.rooms * opt.members > 100000000L)
            return fail("--rooms x --members too large%s", "");
        if ((long)opt.rooms * opt.members < opt.sessions)
            fprintf(stderr, "chat-bench: note: %ld of the %ld sessions are in no room\n",
                    opt.sessions - opt.rooms * opt.members, opt.sessions);
    }
    if (opt.scenario == SC_PAIRS && opt.sessions < 2)
        return fail("pairs needs at least 2 sessions%s", "");
    if (opt.scenario == SC_BLAST) {
        if (opt.transport == TR_SOCKJS_WS || opt.transport == TR_XHR_STREAMING)
            return fail("blast runs over ws:// or tcp:// (it paces the publisher by its socket)%s", "");
        if (opt.readers + opt.slow_readers < 1)
            return fail("blast needs a reader: --readers or --slow-readers%s", "");
        if (opt.sessions_set && opt.sessions != 1 + opt.readers + opt.slow_readers)
            return fail("blast: -n is 1 + --readers + --slow-readers (or leave it out)%s", "");
        opt.sessions = 1 + opt.readers + opt.slow_readers;
        if (!body_set)
            opt.body_size = BLAST_BODY_SIZE;
        if (!opt.duration_set)
            opt.duration = BLAST_TIME_LIMIT;
    }
    if (!opt.processes)
        opt.processes = (int)((opt.sessions + SESSIONS_PER_PROCESS - 1) / SESSIONS_PER_PROCESS);
    if (opt.processes > opt.sessions)
        opt.processes = (int)opt.sessions;
    if ((opt.sessions + opt.processes - 1) / opt.processes > MAX_SESSIONS_PER_PROCESS)
        return fail("more than 19900 sessions per process: raise --processes%s", "");
    return 0;
}

/* ---- pipes -------------------------------------------------------------- */

int write_full(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t w = write(fd, p, len);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        len -= (size_t)w;
    }
    return 0;
}

int read_full(int fd, void *buf, size_t len)
{
    char *p = buf;
    while (len) {
        ssize_t r = read(fd, p, len);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        if (r == 0)
            return -1;
        p += r;
        len -= (size_t)r;
    }
    return 0;
}

/* ---- the server's figures --------------------------------------------- */

static long server_rss_kb(void)
{
    if (!opt.server_pid)
        return -1;
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* utime + stime in seconds, -1 when unknown. */
static double server_cpu_s(void)
{
    if (!opt.server_pid)
        return -1;
    char path[64], buf[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)opt.server_pid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* Fields after the command: state(3) ... utime(14) stime(15). */
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* ---- workers ------------------------------------------------------------- */

struct child {
    pid_t pid;
    int ctl;   /* parent writes */
    int res;   /* parent reads */
    bool answered;
};

static struct child *kids;
static int nkids;

static void kill_kids(void)
{
    for (int i = 0; i < nkids; i++)
        if (kids[i].pid > 0)
            kill(kids[i].pid, SIGTERM);
}

static int command(char cmd)
{
    for (int i = 0; i < nkids; i++)
        if (write_full(kids[i].ctl, &cmd, 1) < 0)
            return -1;
    return 0;
}

static void sum_stats(struct wstats *d, const struct wstats *s)
{
    if (s->setup_first_ns && (!d->setup_first_ns || s->setup_first_ns < d->setup_first_ns))
        d->setup_first_ns = s->setup_first_ns;
    if (s->setup_last_ns > d->setup_last_ns)
        d->setup_last_ns = s->setup_last_ns;
    d->attempted += s->attempted;
    d->ready += s->ready;
    d->failed += s->failed;
    d->published += s->published;
    d->delivered += s->delivered;
    d->published_total += s->published_total;
    d->delivered_total += s->delivered_total;
    d->error_frames += s->error_frames;
    d->disconnects += s->disconnects;
    d->connect_failures += s->connect_failures;
    d->timeouts += s->timeouts;
    d->skipped += s->skipped;
    d->retries += s->retries;
    hist_merge(&d->setup, &s->setup);
    hist_merge(&d->lat, &s->lat);

    struct bstats *db = &d->b;
    const struct bstats *sb = &s->b;
    if (sb->normal_readers && (!db->normal_readers || sb->normal_min < db->normal_min))
        db->normal_min = sb->normal_min;
    if (sb->slow_readers && (!db->slow_readers || sb->slow_min < db->slow_min))
        db->slow_min = sb->slow_min;
    if (sb->slow_max > db->slow_max)
        db->slow_max = sb->slow_max;
    db->normal_readers += sb->normal_readers;
    db->normal_got += sb->normal_got;
    db->normal_dropped += sb->normal_dropped;
    db->normal_gaps += sb->normal_gaps;
    db->slow_readers += sb->slow_readers;
    db->slow_got += sb->slow_got;
    db->slow_dropped += sb->slow_dropped;
    db->slow_gaps += sb->slow_gaps;
    if (sb->normal_end_ns > db->normal_end_ns)
        db->normal_end_ns = sb->normal_end_ns;
    if (sb->normal_max_pause_ns > db->normal_max_pause_ns)
        db->normal_max_pause_ns = sb->normal_max_pause_ns;
    db->slow_drained += sb->slow_drained;
    if (sb->pub_go_ns) {   /* the one worker with the publisher */
        db->pub_sent = sb->pub_sent;
        db->pub_go_ns = sb->pub_go_ns;
        db->pub_written_ns = sb->pub_written_ns;
        db->pub_receipt_ns = sb->pub_receipt_ns;
        db->pub_errors = sb->pub_errors;
        db->pub_dropped = sb->pub_dropped;
        memcpy(db->pub_error, sb->pub_error, sizeof db->pub_error);
    }
}

/* Waits for message type from every worker, adding their stats to sum. */
static int collect(uint32_t type, struct wstats *sum, struct wstats *tmp)
{
    struct pollfd *pf = calloc((size_t)nkids, sizeof *pf);
    if (!pf)
        return -1;
    int left = nkids, rc = 0;
    for (int i = 0; i < nkids; i++)
        kids[i].answered = false;
    hist_init(&sum->setup);
    hist_init(&sum->lat);
    while (left > 0) {
        int n = 0;
        int map[1024];
        for (int i = 0; i < nkids; i++)
            if (!kids[i].answered) {
                pf[n] = (struct pollfd){ .fd = kids[i].res, .events = POLLIN };
                map[n++] = i;
            }
        int r = poll(pf, (nfds_t)n, -1);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            rc = -1;
            break;
        }
        for (int j = 0; j < n; j++) {
            if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            struct child *k = &kids[map[j]];
            uint32_t t;
            if (read_full(k->res, &t, sizeof t) < 0 || (t != type && t != MSG_DONE) ||
                read_full(k->res, tmp, sizeof *tmp) < 0) {
                fprintf(stderr, "chat-bench: worker %d (pid %d) failed\n", map[j], (int)k->pid);
                rc = -1;
                goto out;
            }
            if (t != type)
                continue;   /* blast: a DONE sent as the time limit ran out */
            sum_stats(sum, tmp);
            k->answered = true;
            left--;
        }
    }
out:
    free(pf);
    return rc;
}

/* Sleeps, but returns -1 at once if a worker dies or speaks out of turn. */
static int watch_sleep(double seconds)
{
    struct pollfd pf[1024];
    for (int i = 0; i < nkids; i++)
        pf[i] = (struct pollfd){ .fd = kids[i].res, .events = POLLIN };
    int64_t end = now_ns() + (int64_t)(seconds * 1e9);
    for (;;) {
        int64_t left = end - now_ns();
        if (left <= 0)
            return 0;
        int r = poll(pf, (nfds_t)nkids, (int)((left + 999999) / 1000000));
        if (r < 0 && errno != EINTR)
            return -1;
        if (r > 0) {
            fprintf(stderr, "chat-bench: a worker ended early\n");
            return -1;
        }
    }
}

/* blast: waits until every worker said DONE, or seconds passed (then
 * *late = true); -1 if a worker dies or says anything else. Once the
 * publisher is gone without its last RECEIPT, readers elsewhere get what
 * the server took of its SENDs: they have --drain seconds for that. */
static int wait_done(double seconds, struct wstats *tmp, bool *late)
{
    struct pollfd pf[1024];
    int map[1024], left = nkids;
    for (int i = 0; i < nkids; i++)
        kids[i].answered = false;
    int64_t limit = now_ns() + (int64_t)(seconds * 1e9), end = limit;
    while (left > 0) {
        int64_t ms = (end - now_ns() + 999999) / 1000000;
        if (ms <= 0) {
            *late = end == limit;
            return 0;
        }
        int n = 0;
        for (int i = 0; i < nkids; i++)
            if (!kids[i].answered) {
                pf[n] = (struct pollfd){ .fd = kids[i].res, .events = POLLIN };
                map[n++] = i;
            }
        int r = poll(pf, (nfds_t)n, ms > INT_MAX ? INT_MAX : (int)ms);
        if (r < 0 && errno != EINTR)
            return -1;
        for (int j = 0; r > 0 && j < n; j++) {
            if (!(pf[j].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            uint32_t t;
            if (read_full(kids[map[j]].res, &t, sizeof t) < 0 || t != MSG_DONE ||
                read_full(kids[map[j]].res, tmp, sizeof *tmp) < 0) {
                fprintf(stderr, "chat-bench: worker %d (pid %d) failed\n", map[j], (int)kids[map[j]].pid);
                return -1;
            }
            kids[map[j]].answered = true;
            left--;
            if (tmp->b.pub_go_ns && !tmp->b.pub_receipt_ns && now_ns() + (int64_t)(opt.drain * 1e9) < end)
                end = now_ns() + (int64_t)(opt.drain * 1e9);
        }
    }
    return 0;
}

/* ---- report --------------------------------------------------------------- */

struct report {
    struct wstats s;
    double setup_s, window_s;
    long rss0, rss_ready, rss_end;
    double cpu_setup_pct, cpu_window_pct, cpu_setup_s, cpu_window_s, bench_cpu_s;
    uint64_t expected;
    bool late;            /* blast: stopped by the time limit */
    /* reconnect: the first set-up, before the drop */
    uint64_t first_ready, first_failed;
    double first_setup_s;
};

/* blast: seconds from the start of publishing to t; negative when never. */
static double blast_s(const struct bstats *b, int64_t t)
{
    return t && b->pub_go_ns ? (double)(t - b->pub_go_ns) / 1e9 : -1;
}

static void print_blast_text(const struct report *r)
{
    const struct bstats *b = &r->s.b;
    double took = blast_s(b, b->pub_receipt_ns), written = blast_s(b, b->pub_written_ns);
    double normal_end = blast_s(b, b->normal_end_ns);
    double mib = (double)b->pub_sent * (double)opt.body_size / (1024.0 * 1024.0);
    printf("blast:      %ld x %d B to %sblast; %" PRIu64 " normal reader%s, %" PRIu64
           " slow reader%s at %.0f B/s%s\n",
           opt.count, opt.body_size, opt.prefix, b->normal_readers, b->normal_readers == 1 ? "" : "s",
           b->slow_readers, b->slow_readers == 1 ? "" : "s", opt.slow_rate,
           r->late ? "; STOPPED by the time limit (-d)" : "");
    printf("publisher:  sent %" PRIu64 " of %ld; ", b->pub_sent, opt.count);
    if (took > 0)
        printf("the server took them all in %.2f s = %.0f msg/s, %.2f MiB/s (the RECEIPT of the last)", took,
               (double)b->pub_sent / took, mib / took);
    else
        printf("no RECEIPT for the last");
    if (written >= 0)
        printf("; the kernel took the last byte at %.2f s", written);
    printf("; ERROR %s%s%s; disconnected %s\n", b->pub_errors ? "\"" : "", b->pub_errors ? b->pub_error : "none",
           b->pub_errors ? "\"" : "", b->pub_dropped ? "yes" : "no");
    if (b->normal_readers) {
        printf("normal:     received min %" PRIu64 ", mean %.1f of %ld", b->normal_min,
               (double)b->normal_got / (double)b->normal_readers, opt.count);
        if (normal_end >= 0)
            printf(", the last at %.2f s (%.0f msg/s, %.2f MiB/s)", normal_end, (double)b->normal_min / normal_end,
                   (double)b->normal_min * opt.body_size / (1024.0 * 1024.0) / normal_end);
        printf("; longest pause %.2f s; out of order or missing %" PRIu64 "; disconnected %" PRIu64 " of %" PRIu64
               "\n",
               (double)b->normal_max_pause_ns / 1e9, b->normal_gaps, b->normal_dropped, b->normal_readers);
        printf("latency:    normal readers p50 %.1f ms, p99 %.1f ms, p99.9 %.1f ms, max %.1f ms, mean %.1f ms (%" PRIu64
               " samples)\n",
               (double)hist_quantile(&r->s.lat, 0.5) / 1e6, (double)hist_quantile(&r->s.lat, 0.99) / 1e6,
               (double)hist_quantile(&r->s.lat, 0.999) / 1e6, (double)hist_quantile(&r->s.lat, 1.0) / 1e6,
               hist_mean(&r->s.lat) / 1e6, r->s.lat.count);
    }
    if (b->slow_readers) {
        printf("slow:       received min %" PRIu64 ", mean %.1f, max %" PRIu64 " before the stop; out of order or "
               "missing %" PRIu64 "; disconnected %" PRIu64 " of %" PRIu64 " (found by reading on without a limit "
               "after the stop: %" PRIu64 " more messages)\n",
               b->slow_min, (double)b->slow_got / (double)b->slow_readers, b->slow_max, b->slow_gaps, b->slow_dropped,
               b->slow_readers, b->slow_drained);
    }
}

static void print_text(const struct report *r)
{
    const struct wstats *s = &r->s;
    printf("chat-bench: %s over %s, %s, %ld sessions in %d process%s%s%s\n", scenario_names[opt.scenario],
           transport_name(true), opt.ep[EP_MAIN].url, opt.sessions, opt.processes,
           opt.processes == 1 ? "" : "es", opt.label ? ", " : "", opt.label ? opt.label : "");
    printf("set-up:     %" PRIu64 "/%ld ready in %.2f s = %.0f set-ups/s; failed %" PRIu64
           "; set-up latency p50 %.1f ms, p99 %.1f ms, max %.1f ms\n",
           s->ready, opt.sessions, r->setup_s, r->setup_s > 0 ? (double)s->ready / r->setup_s : 0.0, s->failed,
           (double)hist_quantile(&s->setup, 0.5) / 1e6, (double)hist_quantile(&s->setup, 0.99) / 1e6,
           (double)hist_quantile(&s->setup, 1.0) / 1e6);
    if (opt.scenario == SC_CONNECT)
        printf("retries:    %" PRIu64 " set-ups retried after \"server busy, retry\"\n", s->retries);
    if (opt.scenario == SC_RECONNECT)
        printf("storm:      every session dropped at once after the first set-up (%" PRIu64 " ready in %.2f s, "
               "failed %" PRIu64 "); the line above is their reconnection, timed from the drop to CONNECTED, "
               "%" PRIu64 " retries after \"server busy, retry\"\n",
               r->first_ready, r->first_setup_s, r->first_failed, s->retries);
    if (opt.split)
        printf("publishers: %s\n", opt.ep[EP_PUB].url);
    if (opt.scenario == SC_BLAST)
        print_blast_text(r);
    if (has_traffic()) {
        const char *got = opt.scenario == SC_APPENDS ? "receipted" : "delivered";
        printf("traffic:    %.1f s measured; published %" PRIu64 " (%.0f/s), %s %" PRIu64
               " (%.0f/s); whole run: published %" PRIu64 ", %s %" PRIu64 " of %" PRIu64
               " expected\n",
               r->window_s, s->published, (double)s->published / r->window_s, got, s->delivered,
               (double)s->delivered / r->window_s, s->published_total, got, s->delivered_total, r->expected);
        printf("%s p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us, mean %.1f us (%" PRIu64
               " samples)\n",
               opt.scenario == SC_APPENDS ? "latency:    SEND -> RECEIPT" : "latency:   ",
               (double)hist_quantile(&s->lat, 0.5) / 1e3, (double)hist_quantile(&s->lat, 0.99) / 1e3,
               (double)hist_quantile(&s->lat, 0.999) / 1e3, (double)hist_quantile(&s->lat, 1.0) / 1e3,
               hist_mean(&s->lat) / 1e3, s->lat.count);
    }
    printf("errors:     ERROR frames %" PRIu64 ", disconnects %" PRIu64 ", connect failures %" PRIu64
           ", time-outs %" PRIu64 ", sends skipped (back-pressure) %" PRIu64 "\n",
           s->error_frames, s->disconnects, s->connect_failures, s->timeouts, s->skipped);
    if (opt.server_pid) {
        printf("server:     pid %d, RSS %.1f MB before, %.1f MB at the end; %.1f KB per session; CPU %.0f%% "
               "during set-up, %.0f%% while measured\n",
               (int)opt.server_pid, (double)r->rss0 / 1024, (double)r->rss_end / 1024,
               s->ready ? (double)(r->rss_end - r->rss0) / (double)s->ready : 0.0, r->cpu_setup_pct,
               r->cpu_window_pct);
    }
    printf("bench:      %.1f s CPU in the workers\n", r->bench_cpu_s);
}

static void json_str(const char *k, const char *v, bool comma)
{
    printf("\"%s\":\"", k);
    for (const char *p = v; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf("\\%c", *p);
        else if ((unsigned char)*p < 0x20)
            printf("\\u%04x", *p);
        else
            putchar(*p);
    }
    printf("\"%s", comma ? "," : "");
}

/* "k":v, or "k":null when v is negative (never happened). */
static void json_time(const char *k, double v)
{
    if (v < 0)
        printf("\"%s\":null,", k);
    else
        printf("\"%s\":%.3f,", k, v);
}

static void print_blast_json(const struct report *r)
{
    const struct bstats *b = &r->s.b;
    double took = blast_s(b, b->pub_receipt_ns), normal_end = blast_s(b, b->normal_end_ns);
    double mib = (double)opt.body_size / (1024.0 * 1024.0);
    printf("\"count\":%ld,\"readers\":%" PRIu64 ",\"slow_readers\":%" PRIu64 ",\"slow_read_rate\":%.0f,"
           "\"time_limit_reached\":%s,\"pub_sent\":%" PRIu64 ",",
           opt.count, b->normal_readers, b->slow_readers, opt.slow_rate, r->late ? "true" : "false", b->pub_sent);
    json_time("pub_elapsed_s", took);
    json_time("pub_written_s", blast_s(b, b->pub_written_ns));
    if (took > 0)
        printf("\"pub_msgs_per_s\":%.1f,\"pub_mib_per_s\":%.3f,", (double)b->pub_sent / took,
               (double)b->pub_sent * mib / took);
    else
        printf("\"pub_msgs_per_s\":null,\"pub_mib_per_s\":null,");
    printf("\"pub_errors\":%" PRIu64 ",\"pub_dropped\":%" PRIu64 ",", b->pub_errors, b->pub_dropped);
    if (b->pub_errors)
        json_str("pub_error", b->pub_error, true);
    else
        printf("\"pub_error\":null,");
    printf("\"normal_min\":%" PRIu64 ",\"normal_mean\":%.1f,\"normal_dropped\":%" PRIu64
           ",\"normal_gaps\":%" PRIu64 ",",
           b->normal_min, b->normal_readers ? (double)b->normal_got / (double)b->normal_readers : 0.0,
           b->normal_dropped, b->normal_gaps);
    json_time("normal_elapsed_s", normal_end);
    printf("\"normal_max_pause_s\":%.3f,", (double)b->normal_max_pause_ns / 1e9);
    if (normal_end > 0)
        printf("\"normal_msgs_per_s\":%.1f,\"normal_mib_per_s\":%.3f,", (double)b->normal_min / normal_end,
               (double)b->normal_min * mib / normal_end);
    else
        printf("\"normal_msgs_per_s\":null,\"normal_mib_per_s\":null,");
    printf("\"slow_min\":%" PRIu64 ",\"slow_mean\":%.1f,\"slow_max\":%" PRIu64 ",\"slow_dropped\":%" PRIu64
           ",\"slow_gaps\":%" PRIu64 ",",
           b->slow_min, b->slow_readers ? (double)b->slow_got / (double)b->slow_readers : 0.0, b->slow_max,
           b->slow_dropped, b->slow_gaps);
    printf("\"slow_drained\":%" PRIu64 ",", b->slow_drained);
    printf("\"lat_samples\":%" PRIu64 ",\"lat_p50_us\":%.1f,\"lat_p99_us\":%.1f,\"lat_p999_us\":%.1f,"
           "\"lat_max_us\":%.1f,\"lat_mean_us\":%.1f,",
           r->s.lat.count, (double)hist_quantile(&r->s.lat, 0.5) / 1e3, (double)hist_quantile(&r->s.lat, 0.99) / 1e3,
           (double)hist_quantile(&r->s.lat, 0.999) / 1e3, (double)hist_quantile(&r->s.lat, 1.0) / 1e3,
           hist_mean(&r->s.lat) / 1e3);
}

static void print_json(const struct report *r)
{
    const struct wstats *s = &r->s;
    bool traffic = has_traffic();
    putchar('{');
    json_str("scenario", scenario_names[opt.scenario], true);
    json_str("transport", transport_name(false), true);
    json_str("url", opt.ep[EP_MAIN].url, true);
    if (opt.split)
        json_str("publish_url", opt.ep[EP_PUB].url, true);
    if (opt.room)
        json_str("room", opt.room, true);
    if (opt.label)
        json_str("label", opt.label, true);
    printf("\"sessions\":%ld,\"processes\":%d,\"rooms\":%ld,\"members\":%ld,\"publishers\":%d,"
           "\"rate\":%.0f,\"window\":%d,\"body_size\":%d,\"duration_s\":%.3f,",
           opt.sessions, opt.processes, opt.scenario == SC_FANOUT ? opt.rooms : 0,
           opt.scenario == SC_FANOUT ? opt.members : 0, opt.scenario == SC_FANOUT ? opt.publishers : 0, opt.rate,
           opt.window, opt.body_size, r->window_s);
    printf("\"ready\":%" PRIu64 ",\"failed\":%" PRIu64 ",\"setup_s\":%.3f,\"setups_per_s\":%.1f,"
           "\"setup_p50_ms\":%.3f,\"setup_p99_ms\":%.3f,\"setup_max_ms\":%.3f,",
           s->ready, s->failed, r->setup_s, r->setup_s > 0 ? (double)s->ready / r->setup_s : 0.0,
           (double)hist_quantile(&s->setup, 0.5) / 1e6, (double)hist_quantile(&s->setup, 0.99) / 1e6,
           (double)hist_quantile(&s->setup, 1.0) / 1e6);
    if (traffic)
        printf("\"published\":%" PRIu64 ",\"published_per_s\":%.1f,\"delivered\":%" PRIu64
               ",\"delivered_per_s\":%.1f,\"published_total\":%" PRIu64 ",\"delivered_total\":%" PRIu64
               ",\"expected_total\":%" PRIu64 ",\"lat_samples\":%" PRIu64 ",\"lat_p50_us\":%.1f,"
               "\"lat_p99_us\":%.1f,\"lat_p999_us\":%.1f,\"lat_max_us\":%.1f,\"lat_mean_us\":%.1f,",
               s->published, (double)s->published / r->window_s, s->delivered,
               (double)s->delivered / r->window_s, s->published_total, s->delivered_total, r->expected,
               s->lat.count, (double)hist_quantile(&s->lat, 0.5) / 1e3, (double)hist_quantile(&s->lat, 0.99) / 1e3,
               (double)hist_quantile(&s->lat, 0.999) / 1e3, (double)hist_quantile(&s->lat, 1.0) / 1e3,
               hist_mean(&s->lat) / 1e3);
    if (opt.scenario == SC_BLAST)
        print_blast_json(r);
    if (opt.scenario == SC_RECONNECT)
        printf("\"first_ready\":%" PRIu64 ",\"first_failed\":%" PRIu64 ",\"first_setup_s\":%.3f,", r->first_ready,
               r->first_failed, r->first_setup_s);
    if (opt.scenario == SC_CONNECT || opt.scenario == SC_RECONNECT)
        printf("\"retries\":%" PRIu64 ",", s->retries);
    printf("\"error_frames\":%" PRIu64 ",\"disconnects\":%" PRIu64 ",\"connect_failures\":%" PRIu64
           ",\"timeouts\":%" PRIu64 ",\"skipped\":%" PRIu64 ",",
           s->error_frames, s->disconnects, s->connect_failures, s->timeouts, s->skipped);
    if (opt.server_pid)
        printf("\"server_pid\":%d,\"rss_start_kb\":%ld,\"rss_ready_kb\":%ld,\"rss_end_kb\":%ld,"
               "\"rss_per_session_kb\":%.2f,\"server_cpu_setup_pct\":%.1f,\"server_cpu_pct\":%.1f,"
               "\"server_cpu_setup_s\":%.2f,\"server_cpu_s\":%.2f,",
               (int)opt.server_pid, r->rss0, r->rss_ready, r->rss_end,
               s->ready ? (double)(r->rss_end - r->rss0) / (double)s->ready : 0.0, r->cpu_setup_pct,
               r->cpu_window_pct, r->cpu_setup_s, r->cpu_window_s);
    printf("\"bench_cpu_s\":%.2f}\n", r->bench_cpu_s);
}

/* ---- main --------------------------------------------------------------------- */

static int run(void)
{
    static struct report rep;
    static struct wstats tmp, end;
    int rc = 1;
    memset(&rep, 0, sizeof rep);

    rep.rss0 = server_rss_kb();
    double cpu0 = server_cpu_s();
    int64_t t0 = now_ns();

    kids = calloc((size_t)opt.processes, sizeof *kids);
    if (!kids)
        return 1;
    for (int i = 0; i < opt.processes; i++) {
        int ctl[2], res[2];
        if (pipe(ctl) < 0)
            goto out;
        if (pipe(res) < 0) {
            close(ctl[0]);
            close(ctl[1]);
            goto out;
        }
        fflush(NULL);
        pid_t pid = fork();
        if (pid < 0) {
            perror("chat-bench: fork");
            close(ctl[0]), close(ctl[1]), close(res[0]), close(res[1]);
            goto out;
        }
        if (pid == 0) {
            /* Keep none of the parent's ends, so that a worker sees EOF
             * on its command pipe when the parent goes away. */
            for (int j = 0; j < i; j++)
                close(kids[j].ctl), close(kids[j].res);
            close(ctl[1]);
            close(res[0]);
            free(kids);
            int wrc = worker_main(i, ctl[0], res[1]);
            close(ctl[0]);
            close(res[1]);
            free_options();
            exit(wrc);
        }
        close(ctl[0]);
        close(res[1]);
        kids[i] = (struct child){ .pid = pid, .ctl = ctl[1], .res = res[0] };
        nkids++;
    }

    if (collect(MSG_READY, &rep.s, &tmp) < 0)
        goto out;
    int64_t t_ready = now_ns();
    rep.rss_ready = server_rss_kb();
    double cpu_ready = server_cpu_s();
    rep.setup_s = rep.s.setup_last_ns > rep.s.setup_first_ns
                      ? (double)(rep.s.setup_last_ns - rep.s.setup_first_ns) / 1e9 : 0.0;
    if (cpu0 >= 0 && cpu_ready >= 0 && t_ready > t0) {
        rep.cpu_setup_s = cpu_ready - cpu0;
        rep.cpu_setup_pct = 100.0 * rep.cpu_setup_s / ((double)(t_ready - t0) / 1e9);
    }
    bool traffic = has_traffic();
    if (command(CMD_GO) < 0)
        goto out;
    if (opt.scenario == SC_RECONNECT) {
        /* GO dropped every session; the storm's figures replace the first
         * set-up's. */
        rep.first_ready = rep.s.ready;
        rep.first_failed = rep.s.failed;
        rep.first_setup_s = rep.setup_s;
        cpu_ready = server_cpu_s();
        t_ready = now_ns();
        memset(&rep.s, 0, sizeof rep.s);
        if (collect(MSG_READY, &rep.s, &tmp) < 0)
            goto out;
        int64_t t_back = now_ns();
        double cpu_back = server_cpu_s();
        rep.setup_s = rep.s.setup_last_ns > rep.s.setup_first_ns
                          ? (double)(rep.s.setup_last_ns - rep.s.setup_first_ns) / 1e9 : 0.0;
        if (cpu_ready >= 0 && cpu_back >= 0 && t_back > t_ready) {
            rep.cpu_setup_s = cpu_back - cpu_ready;
            rep.cpu_setup_pct = 100.0 * rep.cpu_setup_s / ((double)(t_back - t_ready) / 1e9);
        }
    }
    struct wstats setup = rep.s;   /* keep the set-up figures */

    if (traffic && opt.warmup > 0 && watch_sleep(opt.warmup) < 0)
        goto out;
    if (command(CMD_MEASURE) < 0)
        goto out;
    int64_t t_m = now_ns();
    double cpu_m = server_cpu_s();
    if (opt.scenario == SC_BLAST) {
        if (wait_done(opt.duration, &tmp, &rep.late) < 0)
            goto out;
    } else if (opt.scenario != SC_CONNECT && opt.scenario != SC_RECONNECT && watch_sleep(opt.duration) < 0) {
        goto out;
    }
    rep.rss_end = server_rss_kb();
    double cpu_end = server_cpu_s();
    int64_t t_s = now_ns();
    if (command(CMD_STOP) < 0)
        goto out;
    rep.window_s = (double)(t_s - t_m) / 1e9;
    if (rep.window_s <= 0)
        rep.window_s = 1e-9;
    if (cpu_m >= 0 && cpu_end >= 0 && t_s > t_m) {
        rep.cpu_window_s = cpu_end - cpu_m;
        rep.cpu_window_pct = 100.0 * rep.cpu_window_s / rep.window_s;
    }

    if (collect(MSG_RESULT, &end, &tmp) < 0)
        goto out;
    /* The set-up figures come from READY; everything else from RESULT. */
    rep.s = end;
    rep.s.setup_first_ns = setup.setup_first_ns;
    rep.s.setup_last_ns = setup.setup_last_ns;
    rep.s.ready = setup.ready;
    rep.s.failed = setup.failed;
    rep.s.setup = setup.setup;
    rep.s.retries = setup.retries;
    if (opt.scenario == SC_FANOUT)
        rep.expected = rep.s.published_total * (uint64_t)opt.members;
    else if (opt.scenario == SC_PAIRS || opt.scenario == SC_APPENDS)
        rep.expected = rep.s.published_total;
    rc = 0;

out:
    for (int i = 0; i < nkids; i++) {
        close(kids[i].ctl);
        close(kids[i].res);
    }
    if (rc != 0)
        kill_kids();
    for (int i = 0; i < nkids; i++) {
        int status;
        while (waitpid(kids[i].pid, &status, 0) < 0 && errno == EINTR)
            ;
        if (rc == 0 && (!WIFEXITED(status) || WEXITSTATUS(status) != 0)) {
            fprintf(stderr, "chat-bench: worker %d exited abnormally\n", i);
            rc = 1;
        }
    }
    free(kids);
    kids = NULL;
    struct rusage ru;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0)
        rep.bench_cpu_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                          (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    if (rc == 0) {
        if (opt.json)
            print_json(&rep);
        else
            print_text(&rep);
        fflush(stdout);
    }
    return rc;
}

int main(int argc, char **argv)
{
    signal(SIGPIPE, SIG_IGN);
    if (parse_args(argc, argv) < 0) {
        free_options();
        return 2;
    }
    if (opt.processes > 1024) {
        free_options();
        return 2;
    }
    int rc = opt.scenario == SC_DESK ? desk_run() : run();
    free_options();
    return rc;
}
