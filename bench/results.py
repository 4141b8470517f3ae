"""Writes bench/RESULTS.md from the JSON lines chat-bench (and wrk) printed
during bench/compare.sh (called by it; reads its settings from the
environment)."""
import json
import os
import re

env = os.environ
runs = [json.loads(l) for l in open(env["RESULTS_FILE"]) if l.strip()]
commands = open(env["COMMANDS_FILE"]).read().splitlines() if os.path.exists(env["COMMANDS_FILE"]) else []

# The chatd vs RabbitMQ comparison, then chatd alone: storage, brokers.
main_runs = [r for r in runs if not r.get("section")]
storage_runs = [r for r in runs if r.get("section") == "storage"]
broker_runs = [r for r in runs if r.get("section") == "brokers"]
flow_runs = [r for r in runs if r.get("section") == "flow"]
sockjs_runs = [r for r in runs if r.get("section") == "sockjs"]

by_label = {}
for r in main_runs:
    by_label.setdefault(r.get("label", "?"), {})[r.get("server", "?")] = r
labels = list(dict.fromkeys(r.get("label", "?") for r in main_runs))

# The targets of the storage work: (title, storage, scenario, figure, minimum).
TARGETS = [
    ("history on PostgreSQL", "postgres", "history", "queries/s", 15000),
    ("history on Redis", "redis", "history", "queries/s", 50000),
    ("durable appends on PostgreSQL", "postgres", "appends", "appends/s", 20000),
]
STORAGE_NAMES = {
    "memory": "memory",
    "sqlite": "sqlite (`synchronous = full`)",
    "sqlite-normal": "sqlite (`synchronous = normal`)",
    "redis": "redis (AOF, `appendfsync always`)",
    "postgres": "postgres (`fsync`, `synchronous_commit` on)",
    "mysql": "mysql (MariaDB, `innodb_flush_log_at_trx_commit = 1`)",
}


def errors(r):
    return sum(r.get(k, 0) for k in ("error_frames", "disconnects", "connect_failures", "timeouts"))


def mb(kb):
    return None if kb is None or kb < 0 else kb / 1024


def delivered_ratio(r):
    if not r.get("expected_total"):
        return None
    return 100.0 * r.get("delivered_total", 0) / r["expected_total"]


# (title, getter, format, better): better is "hi", "lo" or None (no ratio)
SETUP = [
    ("sessions ready", lambda r: r.get("ready"), "{:.0f}", None),
    ("set-ups/s", lambda r: r.get("setups_per_s"), "{:,.0f}", "hi"),
    ("set-up latency p50 (ms)", lambda r: r.get("setup_p50_ms"), "{:.1f}", "lo"),
    ("set-up latency p99 (ms)", lambda r: r.get("setup_p99_ms"), "{:.1f}", "lo"),
]
SERVER = [
    ("server CPU during set-up (% of one core)", lambda r: r.get("server_cpu_setup_pct"), "{:.0f}", None),
    ("server CPU per set-up (ms)", lambda r: 1000 * r["server_cpu_setup_s"] / r["ready"], "{:.3f}", "lo"),
    ("server RSS before (MB)", lambda r: mb(r.get("rss_start_kb")), "{:.1f}", "lo"),
    ("server RSS at the end (MB)", lambda r: mb(r.get("rss_end_kb")), "{:.1f}", "lo"),
    ("server RSS growth per session (KB)", lambda r: r.get("rss_per_session_kb"), "{:.1f}", "lo"),
]
ERRORS = [
    ("errors (ERROR frames, disconnects, failed connects, time-outs)", errors, "{:.0f}", None),
    ("machine load average before the run (1 min)", lambda r: r.get("loadavg"), "{:.2f}", None),
]
IDLE = SETUP + SERVER + [
    ("server CPU while idle (% of one core)", lambda r: r.get("server_cpu_pct"), "{:.1f}", "lo"),
] + ERRORS
CONNECT = SETUP + [
    ("set-up latency max (ms)", lambda r: r.get("setup_max_ms"), "{:.1f}", "lo"),
] + SERVER + ERRORS
TRAFFIC = [
    ("sessions ready", lambda r: r.get("ready"), "{:.0f}", None),
    ("published/s", lambda r: r.get("published_per_s"), "{:,.0f}", "hi"),
    ("deliveries/s", lambda r: r.get("delivered_per_s"), "{:,.0f}", "hi"),
    ("delivered of expected, whole run (%)", delivered_ratio, "{:.2f}", None),
    ("latency p50 (ms)", lambda r: r.get("lat_p50_us", 0) / 1000 if "lat_p50_us" in r else None, "{:.2f}", "lo"),
    ("latency p99 (ms)", lambda r: r.get("lat_p99_us", 0) / 1000 if "lat_p99_us" in r else None, "{:.2f}", "lo"),
    ("latency p99.9 (ms)", lambda r: r.get("lat_p999_us", 0) / 1000 if "lat_p999_us" in r else None, "{:.2f}", "lo"),
    ("latency max (ms)", lambda r: r.get("lat_max_us", 0) / 1000 if "lat_max_us" in r else None, "{:.2f}", "lo"),
    ("server CPU while measured (% of one core)", lambda r: r.get("server_cpu_pct"), "{:.0f}", None),
    ("server CPU per delivery (us)", lambda r: 1e6 * r["server_cpu_s"] / r["delivered"], "{:.1f}", "lo"),
    ("server RSS at the end (MB)", lambda r: mb(r.get("rss_end_kb")), "{:.1f}", "lo"),
    ("load generator CPU, whole run (s)", lambda r: r.get("bench_cpu_s"), "{:.1f}", None),
    ("sends skipped by back-pressure", lambda r: r.get("skipped"), "{:.0f}", None),
] + ERRORS


def rows_for(label):
    sc = next(iter(by_label[label].values())).get("scenario", "")
    return {"idle": IDLE, "connect": CONNECT}.get(sc, TRAFFIC)


def cell(r, get, fmt):
    if r is None:
        return "—"
    if r.get("failed_run"):
        return "run failed"
    try:
        v = get(r)
    except (TypeError, KeyError, ZeroDivisionError):
        v = None
    return "—" if v is None else fmt.format(v)


def ratio(a, b, get, better):
    if better is None or a is None or b is None or a.get("failed_run") or b.get("failed_run"):
        return ""
    try:
        x, y = get(a), get(b)
    except (TypeError, KeyError, ZeroDivisionError):
        return ""
    if x is None or y is None or x <= 0 or y <= 0:
        return ""
    q = x / y
    good = (q > 1) if better == "hi" else (q < 1)
    tag = "chatd better" if good and abs(q - 1) > 0.05 else ("RabbitMQ better" if abs(q - 1) > 0.05 else "even")
    return f"{q:.2f} ({tag})"


def describe(label, r):
    ws = "WebSocket upgrade, " if env["P_TRANSPORT"] == "ws" else ""
    sc = r.get("scenario")
    n = r.get("sessions")
    if sc == "idle" and r.get("instances", 1) > 1:
        k = r["instances"]
        return (f"{n:,} sessions over {k} chatd instances on this machine ({n // k:,} each, from {k} chat-bench runs "
                f"at once; memory storage, simple broker: the instances share nothing), each session with one "
                f"subscription to its own topic (set-up = TCP, {ws}CONNECT/CONNECTED, SUBSCRIBE up to its RECEIPT), "
                f"idle for {env['P_IDLE_HOLD']} s; fresh servers. RSS and CPU are the instances' sums; set-up "
                f"latency is the slowest instance's, set-ups/s all sessions over the slowest instance's set-up time. "
                f"chatd only: RabbitMQ's one node is one process, held to 20,000 open files here.")
    if sc == "idle":
        return (f"{n:,} sessions connect (each with one subscription to its own topic, set-up = TCP, {ws}"
                f"CONNECT/CONNECTED, SUBSCRIBE up to its RECEIPT) and stay idle for "
                f"{env['P_IDLE_HOLD']} s; fresh server; RSS read at the end.")
    if sc == "connect":
        return (f"Connect storm: {n:,} sessions opened as fast as the server takes them "
                f"(at most {env['P_CONNECT_CONCURRENCY']} set-ups in progress per load process); set-up = TCP, {ws}"
                f"CONNECT/CONNECTED; no subscriptions.")
    if sc == "pairs":
        return (f"{n // 2:,} pairs ({n:,} sessions; 10,000 pairs would need 20,000 sockets, more than one process may "
                f"open here); each session subscribes to its own topic and publishes to its partner's; "
                f"{r.get('rate', 0):,.0f} messages/s in all, {r.get('body_size')} B bodies, "
                f"{r.get('duration_s', 0):.0f} s measured after 1 s of warm-up.")
    if sc == "fanout":
        rate = (f"{r.get('rate', 0):,.0f} publications/s in all" if r.get("rate") else
                f"flat out ({r.get('window')} publications in flight per publisher)")
        subs = r.get("rooms", 0) * r.get("members", 0)
        return (f"{r.get('rooms'):,} rooms x {r.get('members'):,} members: {subs:,} subscriptions over {n:,} sessions "
                f"(each a member of {subs // max(n, 1):,} rooms); one publisher per room; "
                f"{rate}; each publication is delivered to every member (the publisher included); "
                f"{r.get('body_size')} B bodies, {r.get('duration_s', 0):.0f} s measured after 1 s of warm-up.")
    return ""


def fnum(v, fmt):
    return "—" if v is None else fmt.format(v)


def ms(r, key):
    v = r.get(key)
    return None if v is None else v / 1000


def perf_text(label):
    d = env.get("PERF_DIR")
    path = os.path.join(d, label + ".txt") if d else None
    if not path or not os.path.exists(path):
        return None
    text = open(path).read().rstrip()
    return text or None


out = []
w = out.append
w("# chat-bench: chatd vs RabbitMQ Web-STOMP; chatd's storage plugins and brokers\n")
w("Produced by `bench/compare.sh` (see `bench/README.md` for how to run it and what each figure means). "
  "The servers run on this machine and share its cores with the load "
  "generator (and with whatever else runs there: see the load average in each table).\n")
parts = []
if main_runs:
    parts.append("[chatd vs RabbitMQ](#chatd-vs-rabbitmq-web-stomp)")
if storage_runs:
    parts.append("[storage: history and durable appends](#storage-history-queries-and-durable-appends)")
if broker_runs:
    parts.append("[brokers: latency between instances](#brokers-delivery-latency-between-two-instances)")
if flow_runs:
    parts.append("[publisher flow control](#publisher-flow-control-one-publisher-a-normal-and-a-slow-reader)")
if parts:
    w("Sections: " + ", ".join(parts) + ".\n")
w("## Machine and versions\n")
w("| | |\n|---|---|")
w(f"| date | {env['M_DATE']} |")
w(f"| CPU | {env['M_NPROC']} x {env['M_CPU']} |")
w(f"| memory | {env['M_MEM']} |")
w(f"| kernel | {env['M_KERNEL']} |")
w(f"| chatd | {env['V_CHATD']}, auth `static` |")
w(f"| libwebsockets | {env['V_LWS']} |")
if main_runs or any(r.get("broker") == "rabbitmq" for r in broker_runs):
    w(f"| RabbitMQ | {env['V_RABBIT']} (Erlang {env['V_ERLANG']}), rabbitmq_web_stomp + rabbitmq_stomp |")
if storage_runs or broker_runs:
    w(f"| Redis | {env.get('V_REDIS') or 'unknown'} |")
if storage_runs:
    w(f"| PostgreSQL | {env.get('V_PG') or 'unknown'} |")
    w(f"| SQLite | {env.get('V_SQLITE') or 'unknown'} |")
    fs = env.get("M_FSYNC")
    w(f"| disk of the data directories | {env.get('M_DISK', '?')}"
      + (f", {int(fs):,} fsync'd 4 KiB writes/s (`dd oflag=dsync`)" if fs else "") + " |")
    w(f"| HTTP load generator | wrk {env.get('V_WRK') or ''} |")
if any(r.get("broker") == "kafka" for r in broker_runs):
    w(f"| Kafka | librdkafka {env.get('V_RDKAFKA', '?')} mock cluster (`kafka_mock`, 3 brokers in one process) |")
w(f"| load generator | chat-bench (libevent {env['V_LIBEVENT']}), source addresses {env['P_SRC']} |")
w(f"| transport | {'STOMP over WebSocket' if env['P_TRANSPORT'] == 'ws' else 'STOMP over TCP'} |")
w("")

# The chatd set-ups of the comparison, in the order of their columns.
CHATDS = [("chatd", "chatd (memory + simple)"), ("chatd-pg-redis", "chatd (postgres + redis)")]
chatds = [(k, t) for k, t in CHATDS if any(r.get("server") == k for r in main_runs)]

if main_runs:
    w("## chatd vs RabbitMQ Web-STOMP\n")
    w("chatd in two set-ups: storage `memory` and broker `simple` (one instance on its own), and storage "
      "`postgres` and broker `redis` (what several instances share; a PostgreSQL and a redis-server of their own run "
      "on this machine beside it, their memory and CPU not counted as chatd's; these scenarios use topics, so the "
      "broker carries every message and the storage only the sessions' set-up). "
      "Ratio = that chatd ÷ RabbitMQ. For rates, higher is better; for latency, memory and CPU per unit of work, "
      "lower is better.\n")

def main_section_targets():
    rows = []
    for key, title in chatds:
        rows += [(f"{title}: {t}", v, ok) for t, v, ok in main_targets(key)]
    if not rows:
        return
    w("### Targets\n")
    w("One instance on this 2-core machine, the load generator sharing it.\n")
    w("| target | measured | holds? |\n|---|---:|---|")
    for t, v, ok in rows:
        w(f"| {t} | {v} | {ok} |")
    w("")
    missed = [t for t, v, ok in rows if ok.startswith("**no**")]
    if any("RSS per idle session" in t for t in missed):
        w("- **Memory per idle session** (missed): about 2.2 KB of it is libwebsockets' own per-connection state "
          "(its connection object 952 B, WebSocket state 217 B, the 1 KiB receive buffer `ws_rx_buffer`, which also bounds "
          "each read: smaller, flat-out throughput drops), about 1.2 KB chatd's (the gateway's connection and STOMP "
          "parser, the session, the subscription and its topic, maps), the rest malloc's overhead; measured with "
          "valgrind massif, see `bench/README.md` (What the profiles showed). The run with fewest sessions shows "
          "the most per session: fixed costs (libev's and lws' tables, malloc arenas) spread over fewer of them.")
    if any("p99 <= 5 ms" in t for t in missed):
        w("- **p99 at 50,000 deliveries/s** (missed): the median delivery takes about a millisecond and the "
          "server's CPU per delivery is in the table; the tail is waiting, not work. Each publication's 100 "
          "recipients are written one after the other (about 10 µs each), and with the gateway thread, the event "
          "loop and the load generator's processes sharing 2 cores, a thread that is preempted holds up every "
          "delivery queued behind it. Of all the figures this one moves the most between runs and between "
          "machines of the same size (`bench/README.md`).")
    if any("5x RabbitMQ" in t for t in missed):
        w("- **5x RabbitMQ on every figure** (missed where listed): at low fixed rates a delivery's latency is "
          "mostly wake-ups (the load generator's, the gateway thread's, the core thread's: each hop between "
          "threads or processes is a sleep and a wake) and the writes to the other recipients of the same "
          "message before it, not work; RabbitMQ's figure there is a few milliseconds. At a fixed rate "
          "deliveries/s cannot exceed what the load generator publishes: where RabbitMQ falls behind, the ratio "
          "is at most the offered rate over RabbitMQ's deliveries/s.")
    if missed:
        w("")


for label in labels:
    rs = by_label[label]
    b = rs.get("rabbitmq")
    # chatd only (the runs over several instances): no other column
    cols = [(k, t) for k, t in chatds if k in rs] if "rabbitmq" not in rs else chatds
    any_r = next((rs[k] for k, _ in cols if k in rs), None) or b
    w(f"### {label}\n")
    d = describe(label, any_r) if not any_r.get("failed_run") else ""
    if d:
        w(d + "\n")
    head = " | ".join(t for _, t in cols) + " | RabbitMQ | " + " | ".join(
        "ratio" if len(cols) == 1 else "ratio " + t.split("(")[1].rstrip(")") for _, t in cols)
    w(f"| | {head} |\n|---" + "|---:" * (len(cols) + 1) + "|---" * len(cols) + "|")
    for title, get, fmt, better in rows_for(label):
        vals = " | ".join(cell(rs.get(k), get, fmt) for k, _ in cols)
        ratios = " | ".join(ratio(rs.get(k), b, get, better) for k, _ in cols)
        w(f"| {title} | {vals} | {cell(b, get, fmt)} | {ratios} |")
    w("")



# The targets of the comparison: (title, label prefix, getter, minimum or
# maximum, "min"|"max").
def main_targets(server):
    def runs(prefix):
        return [(lab, by_label[lab].get(server)) for lab in labels if lab.startswith(prefix)
                and by_label[lab].get(server) and not by_label[lab][server].get("failed_run")]

    rows = []

    def check(title, value, goal, kind, unit):
        if value is None:
            rows.append((title, "not measured", "—"))
            return
        ok = value >= goal if kind == "min" else value <= goal
        if ok:
            verdict = "yes"
        elif kind == "min":
            verdict = f"**no**: {100 * (1 - value / goal):.0f} % short"
        else:
            verdict = f"**no**: {100 * (value / goal - 1):.0f} % over"
        rows.append((title, unit.format(value), verdict))

    for lab, r in runs("idle-"):
        kb = r.get("rss_per_session_kb")
        check(f"{lab}: server RSS per idle session <= 2 KiB", kb, 2.0, "max", "{:.2f} KiB")
    fo = [(lab, r) for lab, r in runs("fanout-") if not r.get("rate")]
    for lab, r in fo:
        check(f"{lab}: >= 250,000 deliveries/s", r.get("delivered_per_s"), 250000, "min", "{:,.0f}")
    for lab, r in runs("fanout-"):
        if r.get("rate") and abs(r["rate"] * r.get("members", 0) - 50000) < 1:
            check(f"{lab}: p99 <= 5 ms at 50,000 deliveries/s", ms(r, "lat_p99_us"), 5.0, "max", "{:.2f} ms")
    for lab, r in runs("connect-"):
        check(f"{lab}: >= 10,000 session set-ups/s", r.get("setups_per_s"), 10000, "min", "{:,.0f}")
    # Every figure measured on both at least 5x RabbitMQ's.
    worse = []
    n = 0
    for lab in labels:
        a, b = by_label[lab].get(server), by_label[lab].get("rabbitmq")
        if not a or not b or a.get("failed_run") or b.get("failed_run"):
            continue
        fixed_rate = bool(a.get("rate")) and a.get("scenario") in ("pairs", "fanout")
        for title, get, fmt, better in rows_for(lab):
            if better is None:
                continue
            # At a fixed rate the load generator sets what is published; a
            # server that falls behind shows in its deliveries and latency.
            try:
                x, y = get(a), get(b)
            except (TypeError, KeyError, ZeroDivisionError):
                continue
            if x is None or y is None or x <= 0 or y <= 0:
                continue
            if fixed_rate and (title == "published/s" or (title == "deliveries/s" and y >= 0.99 * x)):
                continue
            n += 1
            q = x / y if better == "hi" else y / x
            if q < 5:
                worse.append(f"{lab} {title} ({q:.1f}x)")
    if n:
        rows.append((f"every figure measured on both at least 5x RabbitMQ's ({n} figures; at fixed rates, "
                     "published/s, and deliveries/s where both kept up, are set by the load generator)",
                     f"{n - len(worse)} of {n}", "yes" if not worse else "**no**: " + "; ".join(worse)))
    return rows


def SEP(n):
    return "|---" + "|---:" * (n - 1) + "|"


CPU_HEAD = "chatd CPU (%) | its event loop (%) | event loop per op (µs) | backend CPU (%) | load generator CPU (%)"


def loop_us(r):
    rate = r.get("queries_per_s") if r.get("scenario") in ("history", "search") else r.get("delivered_per_s")
    lp = r.get("chatd_loop_cpu_pct")
    return None if not rate or lp is None else lp / 100 / rate * 1e6


def cpu_cells(r):
    return " | ".join([fnum(r.get("chatd_cpu_pct"), "{:.0f}"), fnum(r.get("chatd_loop_cpu_pct"), "{:.0f}"),
                       fnum(loop_us(r), "{:.0f}"), fnum(r.get("backend_cpu_pct"), "{:.0f}"),
                       fnum(r.get("loadgen_cpu_pct"), "{:.0f}")])


def pct_after(text, label):
    """The percentage following label in a perf summary line, or None."""
    m = re.search(re.escape(label) + r"[^0-9-]*([0-9.]+)%", text)
    return float(m.group(1)) if m else None


def profile_notes(pt, r):
    """What the profile says, in words: only what it shows."""
    if not pt:
        return []
    notes = []
    parse, an, plan, run, pl = (pct_after(pt, k) for k in ("parsing", "analysis", "planning", "PortalRun",
                                                            "PL/pgSQL functions"))
    if run is not None:
        front = sum(v for v in (parse, an, plan) if v is not None)
        if front >= 40:
            notes.append(f"In PostgreSQL, {front:.0f} % of the backends' CPU goes to parsing, analysing and planning "
                         f"(planning alone {plan or 0:.0f} %), not to executing: each statement is parsed and "
                         "planned again.")
        else:
            notes.append(f"In PostgreSQL, parsing, analysing and planning take {front:.0f} % of the backends' CPU "
                         f"(the statements are prepared); executing them {run:.0f} %"
                         + (f", of which {pl:.0f} % in the PL/pgSQL functions" if pl else "") + ".")
    loop = {}
    in_loop = False
    for line in pt.splitlines():
        if line.startswith("chatd's main thread"):
            in_loop = True
            continue
        if in_loop:
            m = re.match(r"\s*([0-9.]+)%\s+(\S+)", line)
            if not m:
                break
            loop[m.group(2)] = float(m.group(1))
    js = sum(v for k, v in loop.items() if k.startswith("libjansson"))
    libc = sum(v for k, v in loop.items() if k.startswith("libc."))
    if r.get("scenario") == "history" and js >= 20 and js + libc >= 50 and (r.get("chatd_loop_cpu_pct") or 0) >= 40:
        notes.append(f"Of chatd's event loop's busy time, {js:.0f} % is in jansson"
                     + (f" and {libc:.0f} % in libc (mostly malloc and free)" if libc >= 5 else "")
                     + ": building and encoding the JSON page of messages.")
    if re.search(r"redis-server\s+\S+\s+\[\.\] SHA1Transform", pt):
        notes.append("redis-server spends part of its time in `SHA1Transform`: the plugin sends each script "
                     "with `EVAL` and its full text, which Redis hashes on every call (`EVALSHA` would not).")
    return notes


def storage_section():
    hist = {r.get("storage"): r for r in storage_runs if r.get("scenario") == "history"}
    found = {r.get("storage"): r for r in storage_runs if r.get("scenario") == "search"}
    app = {r.get("storage"): r for r in storage_runs if r.get("scenario") == "appends"}
    order = [s for s in STORAGE_NAMES if s in hist or s in app]
    any_h = next((r for r in hist.values() if not r.get("failed_run")), {})
    any_a = next((r for r in app.values() if not r.get("failed_run")), {})
    w("## Storage: history queries and durable appends\n")
    w("One chatd instance (broker `simple`) per storage plugin, each with its backend on this machine: "
      "SQLite with `synchronous = full` (the default: a receipted message survives power loss) and with "
      "`synchronous = normal` (survives a crash of chatd); Redis with `appendonly yes` and `appendfsync always`, "
      "the durable setting (Redis fsyncs its AOF before it replies, so a receipted message survives power loss); "
      "PostgreSQL with `fsync = on` and `synchronous_commit = on` (COMMIT returns once the WAL is flushed); "
      "`memory` keeps nothing. All data directories on the same disk"
      + (f", which takes about {int(env['M_FSYNC']):,} fsync'd 4 KiB writes/s" if env.get("M_FSYNC") else "")
      + ". CPU figures cover the whole run, in % of one core (the machine has "
      f"{env['M_NPROC']} cores, so up to {100 * int(env['M_NPROC'])} %): chatd's process, its main thread (the "
      "event loop, where the REST handlers and the Redis and PostgreSQL plugins run; libwebsockets serves the "
      "sockets on a thread of its own, SQLite runs on one of its own), the backend (redis-server; the postmaster and "
      "its backends; SQLite and memory run inside chatd), and the load generator (wrk, or chat-bench's workers).\n")

    w(f"### History: pages of {any_h.get('limit', 20)} out of {any_h.get('seeded', 1000):,} messages\n")
    w(f"One group room, {any_h.get('seeded', 1000):,} messages stored first (over STOMP, with receipts; then, for "
      "PostgreSQL, `ANALYZE`, as autovacuum would do within a minute: planned with the statistics of an empty "
      "table, the query reads the whole room and sorts it); then "
      f"`wrk -t{any_h.get('threads', '?')} -c{any_h.get('connections', '?')}` for "
      f"{(any_h.get('duration_us') or 0) / 1e6:.0f} s on `GET /api/rooms/{{id}}/messages?limit={any_h.get('limit', 20)}"
      "&before=CURSOR` with HTTP Basic credentials (HTTP/1.1 keep-alive), each request the next of a sequence of "
      "cursors spread over the room (the newest page included), so that concurrent requests are rarely for the "
      "same page. Each answer is a JSON page of "
      f"{any_h.get('limit', 20)} messages (about "
      f"{(any_h.get('bytes', 0) / max(any_h.get('requests', 1), 1)) / 1024:.1f} KiB with headers). "
      "Latency from wrk (its own percentiles, taken over the whole run).\n")
    w("| storage | queries/s | p50 (ms) | p99 (ms) | max (ms) | errors | " + CPU_HEAD + " | load before |")
    w(SEP(12))
    for st in order:
        r = hist.get(st)
        if r is None:
            continue
        if r.get("failed_run"):
            w(f"| {STORAGE_NAMES[st]} | run failed |" + " |" * 10)
            continue
        errs = sum(r.get(k, 0) for k in ("errors_connect", "errors_read", "errors_write", "errors_status",
                                          "errors_timeout"))
        w(f"| {STORAGE_NAMES[st]} | {fnum(r.get('queries_per_s'), '{:,.0f}')} | {fnum(ms(r, 'lat_p50_us'), '{:.2f}')} | "
          f"{fnum(ms(r, 'lat_p99_us'), '{:.2f}')} | {fnum(ms(r, 'lat_max_us'), '{:.1f}')} | {errs} | "
          f"{cpu_cells(r)} | {fnum(r.get('loadavg'), '{:.2f}')} |")
    w("")

    if found:
        any_s = next((r for r in found.values() if not r.get("failed_run")), {})
        w(f"### Search: one room of {any_s.get('seeded', 1000):,} messages\n")
        w("The history room again, then "
          f"`wrk -t{any_s.get('threads', '?')} -c{any_s.get('connections', '?')}` for "
          f"{(any_s.get('duration_us') or 0) / 1e6:.0f} s on `GET /api/rooms/{{id}}/search?limit="
          f"{any_s.get('limit', 20)}&q=message%20N%20x`, N spread over the seeded messages as the history cursors "
          "are: each query finds one message (the bodies are `history message N xxx…`, 64 bytes), so the figure is "
          "the cost of finding it among the room's messages (docs/storage.md, \"Search\": an FTS5 trigram index in "
          "SQLite, a pg_trgm GIN index in PostgreSQL, a read of the room's messages in memory, MariaDB and Redis), "
          "plus the room look-up of the read-rights check and the JSON page.\n")
        w("| storage | queries/s | p50 (ms) | p99 (ms) | max (ms) | errors | " + CPU_HEAD + " | load before |")
        w(SEP(12))
        for st in order:
            r = found.get(st)
            if r is None:
                continue
            if r.get("failed_run"):
                w(f"| {STORAGE_NAMES[st]} | run failed |" + " |" * 10)
                continue
            errs = sum(r.get(k, 0) for k in ("errors_connect", "errors_read", "errors_write", "errors_status",
                                              "errors_timeout"))
            w(f"| {STORAGE_NAMES[st]} | {fnum(r.get('queries_per_s'), '{:,.0f}')} | "
              f"{fnum(ms(r, 'lat_p50_us'), '{:.2f}')} | {fnum(ms(r, 'lat_p99_us'), '{:.2f}')} | "
              f"{fnum(ms(r, 'lat_max_us'), '{:.1f}')} | {errs} | {cpu_cells(r)} | {fnum(r.get('loadavg'), '{:.2f}')} |")
        w("")

    n, win = any_a.get("sessions"), any_a.get("window")
    w("### Durable appends with receipts\n")
    w(f"{n if n else '?'} sessions (one user) send to one group room, `SEND /app/rooms/{{id}}/send` with a `receipt` "
      f"and a `client-id` header (as the web client does), each keeping {win if win else '?'} SENDs without "
      f"their RECEIPT (flat out: {n * win if n and win else '?'} in flight), {any_a.get('body_size', '?')} B bodies, "
      f"{any_a.get('duration_s', 0):.0f} s measured after 1 s of warm-up. chatd sends the RECEIPT once the storage "
      "plugin said the message is stored (and the sender's read mark moved). appends/s = RECEIPTs/s; latency = "
      "SEND written to RECEIPT read. With this many in flight the latency is mostly queueing (in flight ÷ "
      "throughput).\n")
    w("| storage | appends/s | p50 (ms) | p99 (ms) | p99.9 (ms) | receipted of sent (%) | errors | " + CPU_HEAD +
      " | load before |")
    w(SEP(13))
    for st in order:
        r = app.get(st)
        if r is None:
            continue
        if r.get("failed_run"):
            w(f"| {STORAGE_NAMES[st]} | run failed |" + " |" * 11)
            continue
        w(f"| {STORAGE_NAMES[st]} | {fnum(r.get('delivered_per_s'), '{:,.0f}')} | {fnum(ms(r, 'lat_p50_us'), '{:.2f}')} | "
          f"{fnum(ms(r, 'lat_p99_us'), '{:.2f}')} | {fnum(ms(r, 'lat_p999_us'), '{:.2f}')} | "
          f"{fnum(delivered_ratio(r), '{:.2f}')} | {errors(r)} | {cpu_cells(r)} | {fnum(r.get('loadavg'), '{:.2f}')} |")
    w("")

    w("### Targets\n")
    w("| target | measured | holds? |\n|---|---:|---|")
    limits = []
    for title, st, sc, unit, goal in TARGETS:
        r = (hist if sc == "history" else app).get(st)
        key = "queries_per_s" if sc == "history" else "delivered_per_s"
        if r is None or r.get("failed_run") or r.get(key) is None:
            w(f"| {title} ≥ {goal:,} {unit} | — | not measured |")
            continue
        v = r[key]
        if v >= goal:
            verdict = f"yes ({v / goal:.1f}× the target)"
        else:
            verdict = (f"**no**: {100 * (goal - v) / goal:.0f} % short; the target is {goal / v:.1f}× "
                       "the figure")
        w(f"| {title} ≥ {goal:,} {unit} | {v:,.0f} | {verdict} |")
        limits.append((title, r, v >= goal))
    w("")
    w("### What limits them\n")
    w("Per request, chatd does several storage operations in turn: a history query looks the room up (the "
      "membership check), then reads the page; an append looks the room up, appends (the commit), then moves "
      "the sender's read mark, and only then sends the RECEIPT. With the Redis and PostgreSQL plugins all of "
      "it runs on chatd's one event-loop thread (hiredis and libpq asynchronous). The PostgreSQL plugin sends "
      "everything about one room down one connection, one transaction at a time: what queues meanwhile goes "
      "into the next one (group commit), which waits for the previous COMMIT.\n")
    ncpu = int(env.get("M_NPROC", "2"))
    mem = hist.get("memory")
    if mem and not mem.get("failed_run") and mem.get("chatd_loop_cpu_pct"):
        w(f"With `memory` storage, which costs next to nothing, history reaches {mem['queries_per_s']:,.0f} queries/s "
          f"with chatd's event loop at {mem['chatd_loop_cpu_pct']:.0f} % of a core, {loop_us(mem):.0f} µs per query "
          "(credentials check, storage call and JSON page; libwebsockets handles the sockets on a thread of its own): about the ceiling of one chatd instance's REST path on "
          "this machine, whatever the storage.\n")
    for title, r, ok in limits:
        c, lp, b, m = (r.get(k) for k in ("chatd_cpu_pct", "chatd_loop_cpu_pct", "backend_cpu_pct",
                                          "loadgen_cpu_pct"))
        busy = []
        if lp is not None and lp >= 85:
            busy.append(f"chatd's event loop is at {lp:.0f} % of a core: saturated")
        if b is not None and b >= 85:
            busy.append(f"the backend is at {b:.0f} % of a core")
        conns = sorted((v for k, v in r.items() if k.startswith("pgconn") and k.endswith("_cpu_pct")), reverse=True)
        if conns and conns[0] >= 80:
            busy.append(f"the one PostgreSQL backend process that serves the room's connection is at {conns[0]:.0f} % "
                        f"of a core (the other connections: {', '.join(f'{v:.0f} %' for v in conns[1:]) or 'none'}): "
                        "saturated, and the room's operations cannot use another")
        total = sum(v for v in (c, b, m) if v is not None)
        if total >= 100 * ncpu * 0.85:
            busy.append(f"the machine is busy: chatd, the backend and the load generator take {total:.0f} % of its "
                        f"{100 * ncpu} %")
        if not busy:
            wait = ("the room's operations wait their turn on its one connection, a transaction at a time, each "
                    "a round trip" + (" and a WAL flush" if r.get("scenario") == "appends" else "")
                    if r.get("storage") == "postgres" else
                    "the operations wait for their round trips" + (" and fsyncs" if r.get("scenario") == "appends"
                                                                   else ""))
            busy.append(f"neither chatd's event loop ({fnum(lp, '{:.0f}')} %) nor the backend "
                        f"({fnum(b, '{:.0f}')} % in all, {fnum(conns[0] if conns else None, '{:.0f}')} % the busiest "
                        f"process) nor the machine is saturated: {wait}")
        w(f"- **{title}** ({'holds' if ok else 'missed'}): " + "; ".join(busy) + ".")
        pt = perf_text(r.get("label", ""))
        for note in profile_notes(pt, r):
            w(f"  {note}")
        if pt:
            w("")
            w("  <details><summary>perf: where the machine's CPU went, 3 s in the middle of the run</summary>\n")
            w("  ```")
            for line in pt.splitlines():
                w("  " + line.rstrip())
            w("  ```\n  </details>\n")
    w("")


def brokers_section():
    rs = broker_runs
    any_r = next((r for r in rs if not r.get("failed_run")), {})
    w("## Brokers: delivery latency between two instances\n")
    pairs = (any_r.get("sessions") or 0) // 2
    w(f"Two chatd instances share a Redis for storage (without persistence: these messages go to topics, not "
      f"rooms, and are not stored) and the broker; {pairs:,} one-way pairs: each publisher is "
      "connected to instance A (`chat-bench --publish-url`), its subscriber to instance B, so every message crosses "
      f"the broker. {any_r.get('rate', 0):,.0f} messages/s in all, {any_r.get('body_size', '?')} B bodies to "
      f"`/topic/bench.p.N`, {any_r.get('duration_s', 0):.0f} s measured after 1 s of warm-up. `simple` is the "
      "baseline: one instance, publishers and subscribers on it, no broker hop. Kafka is librdkafka's mock cluster "
      "(not a real Kafka; three brokers in one process) with `kafka.fetch.wait.max.ms = 10`; RabbitMQ one node "
      "(AMQP, one queue per instance); Redis pub/sub on a redis-server of its own. Latency is publisher to "
      "subscriber (same clock). CPU in % of one core, whole run.\n")
    w("| broker | instances | deliveries/s | delivered of sent (%) | p50 (ms) | p99 (ms) | p99.9 (ms) | max (ms) | "
      "chatd A CPU (%) | chatd B CPU (%) | broker CPU (%) | load generator CPU (%) | errors | load before |")
    w(SEP(14))
    for r in rs:
        b = r.get("broker", "?")
        if r.get("failed_run"):
            w(f"| {b} | | run failed |" + " |" * 11)
            continue
        a_cpu = r.get("publisher_instance_cpu_pct")
        w(f"| {b} | {r.get('instances', '?')} | {fnum(r.get('delivered_per_s'), '{:,.0f}')} | "
          f"{fnum(delivered_ratio(r), '{:.2f}')} | {fnum(ms(r, 'lat_p50_us'), '{:.2f}')} | "
          f"{fnum(ms(r, 'lat_p99_us'), '{:.2f}')} | {fnum(ms(r, 'lat_p999_us'), '{:.2f}')} | "
          f"{fnum(ms(r, 'lat_max_us'), '{:.1f}')} | "
          f"{fnum(a_cpu, '{:.0f}') if r.get('instances', 1) > 1 else '(same)'} | "
          f"{fnum(r.get('server_cpu_pct'), '{:.0f}')} | {fnum(r.get('backend_cpu_pct'), '{:.0f}')} | "
          f"{fnum(r.get('loadgen_cpu_pct'), '{:.0f}')} | {errors(r)} | {fnum(r.get('loadavg'), '{:.2f}')} |")
    w("")
    w("chatd B's CPU is chat-bench's measurement over the measured window; chatd A's, the broker's and the "
      "load generator's cover the whole run (set-up and drain included), so they read a little low. The broker's CPU is "
      "redis-server's, RabbitMQ's `beam.smp` or the Kafka mock's.\n")


FLOW_SETTINGS = {
    "a": "default byte rate (`max_send_bytes_per_second = {b}`), 1 normal + 1 slow reader",
    "b": "no byte rate (`max_send_bytes_per_second = 0`), 1 normal + 1 slow reader",
    "c": "no byte rate, 2 normal readers",
}


def flow_section():
    rs = flow_runs
    any_r = next((r for r in rs if not r.get("failed_run")), {})
    w("## Publisher flow control: one publisher, a normal and a slow reader\n")
    w(f"`chat-bench --scenario blast`: one session SENDs {any_r.get('count', 0):,} messages of "
      f"{any_r.get('body_size', '?')} B to `/topic/bench.blast` as fast as its socket takes them (no window, no "
      "rate; the last one with a receipt); normal readers read as fast as they can, slow readers at most "
      f"{any_r.get('slow_read_rate', 0):,.0f} B/s. A fresh chatd per setting (`slow_consumer_timeout` and "
      "`max_outbound_bytes` at their defaults, 5 s and 4M). *Took* is the time to the RECEIPT of the last "
      "SEND (the server has taken them all); *longest pause*, the longest a normal reader waited for its next "
      "message; a slow reader's disconnection is found by reading on without a limit after the run (what the "
      "kernel's buffers held arrives before the close).\n")
    w("| server | setting | took (s) | publisher msg/s | MiB/s | publisher ERROR | normal readers got (min) | "
      "normal disconnected | longest pause (s) | latency p50 (ms) | p99 (ms) | slow got before the end | "
      "slow disconnected | server RSS at the end (MB) |")
    w(SEP(14))
    for r in rs:
        srv, st = r.get("server", "?"), r.get("setting", "?")
        if srv == "chatd":
            desc = f"({st}) " + FLOW_SETTINGS.get(st, st).replace("{b}", str(r.get("send_bytes", "?")))
        else:
            desc = f"{r.get('readers', 0)} normal + {r.get('slow_readers', 0)} slow reader(s)"
        if r.get("failed_run"):
            w(f"| {srv} | {desc} | run failed |" + " |" * 11)
            continue
        err = r.get("pub_error") or "none"
        w(f"| {srv} | {desc} | {fnum(r.get('pub_elapsed_s'), '{:.2f}')} | "
          f"{fnum(r.get('pub_msgs_per_s'), '{:,.0f}')} | {fnum(r.get('pub_mib_per_s'), '{:.1f}')} | {err} | "
          f"{r.get('normal_min', 0):,} of {r.get('count', 0):,} | {r.get('normal_dropped', 0)} of "
          f"{r.get('readers', 0)} | {fnum(r.get('normal_max_pause_s'), '{:.2f}')} | "
          f"{fnum(ms(r, 'lat_p50_us'), '{:.1f}')} | {fnum(ms(r, 'lat_p99_us'), '{:.1f}')} | "
          f"{r.get('slow_min', 0) if r.get('slow_readers') else '—'} | "
          f"{str(r.get('slow_dropped', 0)) + ' of ' + str(r.get('slow_readers')) if r.get('slow_readers') else '—'} | "
          f"{fnum(mb(r.get('rss_end_kb')), '{:.1f}')} |")
    w("")


SOCKJS_OVER = {
    "ws": "plain WebSocket (`ws://…/ws`)",
    "sockjs-ws": "SockJS, websocket transport",
    "sockjs-xhr": "SockJS, xhr-streaming + xhr_send",
}


def sockjs_section():
    rs = sockjs_runs
    w("## SockJS beside plain WebSocket\n")
    w("chatd alone (`memory` storage, `simple` broker), the same sessions over plain WebSocket at `/ws`, over "
      "SockJS' websocket transport (`/ws/{server}/{session}/websocket`, each STOMP frame inside a SockJS JSON "
      "array) and over SockJS' xhr-streaming (one streaming POST per session carries what the server sends; what "
      "the client says goes as `xhr_send` POSTs on a second connection, one at a time, batching what was said "
      "meanwhile, as sockjs-client does). SockJS settings are chatd's defaults: a streaming response ends after "
      "`sockjs_response_limit` (128K) and the client opens the next. Idle: a fresh chatd per transport, the "
      "sessions connected and subscribed, then held; memory is the server's RSS growth per session. Fan-out: one "
      "chatd, the transports taking turns; CPU in % of one core over the measured window.\n")
    w("| run | over | sessions | ready | set-ups/s | RSS per session (KB) | deliveries/s | delivered of expected (%) | "
      "p50 (ms) | p99 (ms) | chatd CPU (%) | errors |")
    w(SEP(12))
    for r in rs:
        lab = r.get("label", "?").rsplit("-" + r.get("over", "?"), 1)[0]
        over = SOCKJS_OVER.get(r.get("over"), r.get("over", "?"))
        if r.get("failed_run"):
            w(f"| {lab} | {over} | run failed |" + " |" * 9)
            continue
        idle = r.get("scenario") == "idle"
        w(f"| {lab} | {over} | {r.get('sessions', 0):,} | {r.get('ready', 0):,} | "
          f"{fnum(r.get('setups_per_s'), '{:,.0f}')} | "
          f"{fnum(r.get('rss_per_session_kb'), '{:.1f}') if idle else '—'} | "
          f"{'—' if idle else fnum(r.get('delivered_per_s'), '{:,.0f}')} | "
          f"{'—' if idle else fnum(delivered_ratio(r), '{:.2f}')} | "
          f"{'—' if idle else fnum(ms(r, 'lat_p50_us'), '{:.2f}')} | "
          f"{'—' if idle else fnum(ms(r, 'lat_p99_us'), '{:.2f}')} | "
          f"{fnum(r.get('server_cpu_pct'), '{:.0f}')} | {errors(r)} |")
    w("")


if main_runs:
    main_section_targets()
if storage_runs:
    storage_section()
if broker_runs:
    brokers_section()
if flow_runs:
    flow_section()
if sockjs_runs:
    sockjs_section()

w("## How these figures were taken\n")
w("- One `chat-bench` run per table and server, the servers taking turns scenario by scenario. `compare.sh` "
  "starts them on free loopback ports: a fresh server for each idle run (only that one running), then all of them "
  "for the other scenarios (an idle RabbitMQ uses about 1 % of a core, an idle chatd nothing).")
w("- Before each run `compare.sh` waits (up to a minute each) until the servers use under 10 % of a core and the "
  "whole machine is at least 90 % idle over half a second, so that what the previous run left behind (sockets "
  "closing, a server freeing memory) does not count in the next. The load average before each run is in its "
  "table; it lags (about 2 right after a busy run on 2 cores, however idle the machine has become since). "
  "Figures move from run to run on a shared virtual machine, by a tenth or more for the CPU-bound ones; rerun "
  "`compare.sh` to confirm a difference.")
w("- Latency is end to end, publisher to subscriber: the body carries the publisher's CLOCK_MONOTONIC time, the "
  "subscriber subtracts it on receipt. Both ends are on this machine, so no clock skew. Every delivery of a message "
  "published inside the measured window is a sample, including those that arrive during the drain after it.")
w("- The load generator competes with the server for the same cores; on a small machine the figures of both servers "
  "are lower than they would be with the load on another host, and a server that needs more CPU suffers more.")
w("- \"Delivered of expected\" counts every delivery until the end of the drain after the measured window (it ends "
  "after 0.3 s without a delivery, or at `--drain`). Under 100 % means a backlog the server had not delivered by then, "
  "or messages lost; chat-bench cannot tell the two apart.")
w("- Flat-out runs keep a fixed number of publications in flight per publisher (the publisher is a member of its room "
  "and waits for its own copy), so their latency is mostly queueing: in flight ÷ throughput. Read it as a "
  "throughput run; the fixed-rate runs are the latency figures.")
w("- In the comparison with RabbitMQ, chatd keeps messages in memory (`memory` storage, `simple` broker) and "
  "RabbitMQ uses its default non-durable topic subscriptions (one auto-delete queue per SUBSCRIBE): neither "
  "writes to disk.")
if storage_runs or broker_runs:
    w("- The storage and broker runs use chatd only, on the transport above. History queries are measured with "
      "wrk (its latency percentiles); appends and broker latency with chat-bench. The backends (redis-server, "
      "PostgreSQL, RabbitMQ, the Kafka mock) run on this machine as well, started by `compare.sh` in temporary "
      "directories and stopped at the end.")
w("")
if commands:
    w("## Commands\n")
    w("```")
    for c in commands:
        w(c)
    w("```\n")
w("<details><summary>Raw results (JSON; chat-bench, and wrk for the history runs)</summary>\n")
w("```json")
for r in runs:
    w(json.dumps(r, separators=(",", ":")))
w("```\n</details>")

open(env["OUT_FILE"], "w").write("\n".join(out) + "\n")
