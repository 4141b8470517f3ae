#!/usr/bin/env bash
# Runs the same chat-bench scenarios against chatd (memory storage and
# simple broker; PostgreSQL storage and Redis broker) and against RabbitMQ's
# Web-STOMP (or STOMP/TCP) on this machine; then chatd's storage plugins
# (history and search queries/s, durable appends/s) and its cluster brokers (latency
# from one chatd instance to another); and writes bench/RESULTS.md.
# See bench/README.md. Every server this script starts is stopped on exit.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(dirname "$HERE")
BUILD=${BUILD:-$ROOT/build-bench}
OUT=${OUT:-$HERE/RESULTS.md}

# Sizes (override from the environment).
SCENARIOS=${SCENARIOS:-"idle connect pairs fanout storage brokers"}  # which parts run
SERVERS=${SERVERS:-"chatd chatd-pg-redis rabbitmq"}  # idle..fanout: which servers to measure
TRANSPORT=${TRANSPORT:-ws}                # ws: chatd /ws vs Web-STOMP; tcp: STOMP over TCP on both
IDLE_SIZES=${IDLE_SIZES:-"1000 10000 19000"}  # idle sessions, one run (on a fresh server) per size
IDLE_CLUSTER=${IDLE_CLUSTER:-"100000x6"}  # idle sessions over chatd instances (chatd only); "" = none
IDLE_HOLD=${IDLE_HOLD:-10}                # seconds the idle sessions are held
CONNECT=${CONNECT:-2000}                  # connect storm: sessions
CONNECT_CONCURRENCY=${CONNECT_CONCURRENCY:-200}
# 10,000 pairs would be 20,000 sessions, over the 20,000 open files one
# process may have here: 9,900 pairs is the most one instance can hold.
PAIRS=${PAIRS:-9900}                      # pairs: number of pairs (2 sessions each)
PAIRS_RATE=${PAIRS_RATE:-5000}            # pairs: messages/s over all sessions
FANOUT_ROOMS=${FANOUT_ROOMS:-1000}
FANOUT_MEMBERS=${FANOUT_MEMBERS:-100}
FANOUT_SESSIONS=${FANOUT_SESSIONS:-10000} # members spread over these (10 rooms each by default)
FANOUT_RATES=${FANOUT_RATES:-${FANOUT_RATE:-"50 500"}}  # fixed-rate runs: publications/s (x members deliveries)
FANOUT_MAX=${FANOUT_MAX:-1}               # also run fanout flat out (1) or not (0)
FANOUT_WINDOW=${FANOUT_WINDOW:-4}         # flat out: publications in flight per publisher
DURATION=${DURATION:-10}                  # measured seconds of the traffic scenarios
DRAIN=${DRAIN:-15}                        # at most this long to wait for a backlog after them
BODY_SIZE=${BODY_SIZE:-100}
SOURCE_ADDRS=${SOURCE_ADDRS:-127.0.0.1-127.0.0.50}
PROCESSES=${PROCESSES:-}                  # chat-bench --processes (default: automatic)
# storage: chatd (broker simple) on each storage plugin; sqlite-normal is
# sqlite with synchronous = normal.
STORAGES=${STORAGES:-"memory sqlite sqlite-normal redis postgres mysql"}
HISTORY_SEED=${HISTORY_SEED:-1000}        # messages stored in the history room first
HISTORY_LIMIT=${HISTORY_LIMIT:-20}        # page size: GET .../messages?limit=N (the newest N)
HISTORY_CONNECTIONS=${HISTORY_CONNECTIONS:-64}  # wrk -c
HISTORY_THREADS=${HISTORY_THREADS:-2}     # wrk -t
HISTORY_DURATION=${HISTORY_DURATION:-10}  # wrk -d, seconds
APPENDS_SESSIONS=${APPENDS_SESSIONS:-100} # sessions sending to one room, each SEND with a receipt
APPENDS_WINDOW=${APPENDS_WINDOW:-4}       # unreceipted SENDs per session
# brokers: two chatd instances sharing a Redis (storage) and the broker;
# subscribers on one, publishers on the other. simple = one instance, the
# baseline without a broker hop.
BROKERS=${BROKERS:-"simple redis rabbitmq kafka"}
BROKER_PAIRS=${BROKER_PAIRS:-500}         # publisher -> subscriber pairs
BROKER_RATE=${BROKER_RATE:-2000}          # messages/s over all pairs
# flow (not in the default SCENARIOS): one publisher blasting --count
# messages at normal and slow readers, chatd in three settings (see README).
FLOW_COUNT=${FLOW_COUNT:-4000}            # messages
FLOW_BODY=${FLOW_BODY:-8192}              # body bytes
FLOW_SLOW_RATE=${FLOW_SLOW_RATE:-65536}   # a slow reader's bytes/s
# sockjs (not in the default SCENARIOS): chatd over plain WebSocket, SockJS'
# websocket transport and its xhr-streaming (xhr_send for what clients say).
SOCKJS_TRANSPORTS=${SOCKJS_TRANSPORTS:-"ws sockjs-ws sockjs-xhr"}
SOCKJS_IDLE=${SOCKJS_IDLE:-5000}          # idle sessions, a fresh chatd per transport
SOCKJS_ROOMS=${SOCKJS_ROOMS:-200}         # fan-out: rooms x members over the sessions
SOCKJS_MEMBERS=${SOCKJS_MEMBERS:-10}
SOCKJS_SESSIONS=${SOCKJS_SESSIONS:-2000}
SOCKJS_RATE=${SOCKJS_RATE:-1000}          # fixed-rate run: publications/s (x members deliveries)
CHATD_SEND_BYTES=0                        # [stomp] max_send_bytes_per_second of the chatd started next
PERF=${PERF:-auto}                        # 1: profile the machine 3 s into the target runs; auto: if perf works
WRK=${WRK:-wrk}

BENCH=$BUILD/bench/chat-bench
CHATD=$BUILD/core/chatd
KAFKA_MOCK=$BUILD/tests/servers/kafka_mock
RABBIT_SERVER=/usr/lib/rabbitmq/bin/rabbitmq-server
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}

log() { printf '[compare %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
want() { [[ " $SCENARIOS " == *" $1 "* ]]; }

for s in $SCENARIOS; do
    case $s in idle | connect | pairs | fanout | storage | brokers | flow | sockjs) ;; *) die "unknown scenario $s" ;; esac
done
for s in $SERVERS; do
    case $s in chatd | chatd-pg-redis | rabbitmq) ;; *) die "unknown server $s" ;; esac
done
for s in $STORAGES; do
    case $s in memory | sqlite | sqlite-normal | redis | postgres | mysql) ;; *) die "unknown storage $s" ;; esac
done
for s in $BROKERS; do
    case $s in simple | redis | rabbitmq | kafka) ;; *) die "unknown broker $s" ;; esac
done

WORK=$(mktemp -d /tmp/chat-bench-compare.XXXXXX)
RESULTS=$WORK/results.jsonl
: > "$RESULTS"
CHATD_PID=
CHATD_PIDS=" "          # every chatd started here and not yet stopped
RABBIT_PID=
RABBIT_DIR=
RABBIT_EPMD_PORT=
REDIS_PIDS=" "
PG_PID=
PG_DIR=
MY_PID=
MY_DIR=
KAFKA_PID=
KAFKA_FD=
BENCH_PID=
PERF_PID=
RUN_EXTRA='{}'          # merged into the JSON line of the runs that follow
RUN_WATCH=              # "NAME:PID,PID ...": the runs that follow report NAME_cpu_pct
RUN_PERF=0              # 1: the next run is profiled (if PERF=1)
CLK_TCK=$(getconf CLK_TCK)
BASIC=$(printf bench:bench | base64)

# ---- build --------------------------------------------------------------

# kafka_mock (librdkafka's mock cluster, the Kafka of the broker runs) is a
# test helper: configure with the tests, build only what is used here.
TARGETS="chatd chat-bench kafka_mock auth_static storage_memory storage_sqlite storage_redis storage_postgres storage_mysql
         broker_simple broker_redis broker_rabbitmq broker_kafka"
if [[ ! -x $BENCH || ! -x $CHATD || ${REBUILD:-0} = 1 ]] || { want brokers && [[ ! -x $KAFKA_MOCK ]]; }; then
    log "building in $BUILD"
    cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=ON -DBUILD_EXAMPLES=OFF >/dev/null
    # shellcheck disable=SC2086
    cmake --build "$BUILD" -j"$(nproc)" --target $TARGETS >/dev/null
fi
[[ -x $BENCH ]] || die "no $BENCH"
if want storage && ! command -v "$WRK" >/dev/null; then
    die "the storage runs need wrk (install it, set WRK=/path/to/wrk, or leave storage out of SCENARIOS)"
fi
if [[ $PERF == auto ]]; then
    if command -v perf >/dev/null && perf record -a -o /dev/null -- true >/dev/null 2>&1; then PERF=1; else PERF=0; fi
fi

# ---- ports ----------------------------------------------------------------

USED_PORTS=" "
# free_port VAR: a free TCP port below the ephemeral range (32768-60999), so
# that the benchmark's own client sockets cannot take it.
free_port() {
    local p
    while :; do
        p=$((20000 + RANDOM % 12000))
        [[ $USED_PORTS == *" $p "* ]] && continue
        if ! ss -Htan "( sport = :$p )" | grep -q .; then
            USED_PORTS+="$p "
            printf -v "$1" %s "$p"
            return
        fi
    done
}

wait_port() {   # PORT SECONDS
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        ss -Hltn "( sport = :$1 )" | grep -q . && return 0
        sleep 0.1
    done
    return 1
}

cpu_ticks() {   # PID: utime + stime in clock ticks
    sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'
}

# Waits until the server's port has (almost) no established connections
# left and the server is (almost) idle, so that one run's teardown does not
# load the next run.
wait_quiet() {   # PORT PID
    local i n
    for ((i = 0; i < 600; i++)); do
        n=$(ss -Htn state established "( sport = :$1 )" | wc -l)
        ((n < 5)) && break
        sleep 0.1
    done
    wait_cpu_quiet "$2"
}

wait_cpu_quiet() {   # PID: until it uses under 10 % of a core (at most 60 s)
    local i a b
    for ((i = 0; i < 120; i++)); do
        a=$(cpu_ticks "$1") || return 0
        sleep 0.5
        b=$(cpu_ticks "$1") || return 0
        [[ -n $a && -n $b ]] || return 0
        ((b - a <= 5)) && break
    done
    return 0   # still busy after a minute: measure anyway (its load average is in the table)
}

# Until the whole machine is at least 90 % idle over half a second (at most
# 60 s): what a run leaves behind (thousands of sockets closing, a server
# freeing gigabytes, a backend's checkpoint) settles before the next starts.
machine_idle() {   # "TOTAL IDLE" jiffies of all CPUs
    awk '/^cpu / { print $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9, $5 + $6; exit }' /proc/stat
}

wait_machine_quiet() {
    local i a b
    for ((i = 0; i < 120; i++)); do
        a=$(machine_idle)
        sleep 0.5
        b=$(machine_idle)
        awk -v a="$a" -v b="$b" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[1] - x[1]
            exit !(t > 0 && (y[2] - x[2]) >= 0.9 * t) }' && return 0
    done
    log "the machine is still busy after a minute; measuring anyway"
}

stop_pid() {   # PID: TERM, KILL after 10 s
    [[ -n $1 ]] || return 0
    kill -TERM "$1" 2>/dev/null || true
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$1" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# ---- chatd --------------------------------------------------------------------

BENCH_HASH=
# write_chat_ini FILE HTTP_PORT STOMP_PORT STORAGE BROKER: STORAGE and BROKER
# are the lines of those two sections.
write_chat_ini() {
    if [[ -z $BENCH_HASH ]]; then
        BENCH_HASH=$(printf bench | "$CHATD" hash-password --iterations 1000)
    fi
    cat > "$1" <<EOF
; generated by bench/compare.sh
[server]
listen          = 127.0.0.1:$2
stomp_listen    = 127.0.0.1:$3
plugin_dir      = $BUILD/plugins
log_level       = warn
max_connections_per_ip = 0               ; every session comes from loopback

[stomp]
max_sends_per_second = 0                 ; unlimited for the benchmark
max_send_bytes_per_second = $CHATD_SEND_BYTES
connect_timeout      = 60s
allow.bench = send,subscribe /topic/bench.** user,agent

[auth]
plugin = static
; one user for every session; 1000 PBKDF2 iterations (the default is 200000):
; the benchmark measures the server, not the password hash
user.bench.password = $BENCH_HASH
user.bench.roles    = user

[storage]
$4

[broker]
$5
EOF
}

wait_healthy() {   # HTTP_PORT SECONDS: /healthz says 200 (storage and broker ready)
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        [[ $(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$1/healthz") == 200 ]] && return 0
        sleep 0.1
    done
    return 1
}

# launch_chatd NAME INI HTTP_PORT STOMP_PORT: starts chatd and waits until it
# listens and is healthy; LAUNCHED = its pid.
launch_chatd() {
    [[ -x $CHATD ]] || die "no $CHATD (build $BUILD first)"
    "$CHATD" --check-config -c "$2" >/dev/null 2>> "$WORK/$1.log" || die "$2 refused; see $WORK/$1.log"
    # (Without the Kafka mock's stdin, which must close when this script closes it.)
    (ulimit -n 20000; if [[ -n $KAFKA_FD ]]; then exec {KAFKA_FD}>&-; fi; exec "$CHATD" -c "$2") \
        >> "$WORK/$1.log" 2>&1 &
    LAUNCHED=$!
    CHATD_PIDS+="$LAUNCHED "
    wait_port "$3" 20 || die "chatd $1 did not start; see $WORK/$1.log"
    wait_port "$4" 5 || die "chatd $1's STOMP listener did not start"
    wait_healthy "$3" 60 || die "chatd $1 is not ready (storage or broker); see $WORK/$1.log"
}

stop_chatd_pid() {
    stop_pid "$1"
    CHATD_PIDS=${CHATD_PIDS/ $1 / }
}

# The chatd of the comparison with RabbitMQ: memory storage, simple broker.
start_chatd() {
    free_port CHATD_HTTP
    free_port CHATD_STOMP
    write_chat_ini "$WORK/chat.ini" "$CHATD_HTTP" "$CHATD_STOMP" "plugin = memory" "plugin = simple"
    launch_chatd chatd "$WORK/chat.ini" "$CHATD_HTTP" "$CHATD_STOMP"
    CHATD_PID=$LAUNCHED
    log "chatd pid $CHATD_PID on http $CHATD_HTTP, stomp $CHATD_STOMP"
}

stop_chatd() {
    [[ -n $CHATD_PID ]] || return 0
    stop_chatd_pid "$CHATD_PID"
    CHATD_PID=
}

# The chatd of the second set-up: PostgreSQL storage, Redis broker (what
# several instances share). Its PostgreSQL and redis-server are started with
# it the first time and kept until stop_pg_redis_backends; their memory and
# CPU are not counted as chatd's.
CHATD2_PID= CHATD2_HTTP= CHATD2_STOMP= PR_REDIS_PID= PR_REDIS_PORT=
start_chatd_pg_redis() {
    [[ -n $PG_PID ]] || start_postgres
    if [[ -z $PR_REDIS_PID ]]; then
        start_redis volatile
        PR_REDIS_PID=$REDIS_PID PR_REDIS_PORT=$REDIS_PORT
    fi
    free_port CHATD2_HTTP
    free_port CHATD2_STOMP
    write_chat_ini "$WORK/chat-pg-redis.ini" "$CHATD2_HTTP" "$CHATD2_STOMP" \
        $'plugin = postgres\nconninfo = host=127.0.0.1 port='"$PG_PORT"' dbname=chatd user=chatd' \
        $'plugin = redis\naddress = 127.0.0.1:'"$PR_REDIS_PORT"
    launch_chatd chatd-pg-redis "$WORK/chat-pg-redis.ini" "$CHATD2_HTTP" "$CHATD2_STOMP"
    CHATD2_PID=$LAUNCHED
    log "chatd (postgres + redis) pid $CHATD2_PID on http $CHATD2_HTTP, stomp $CHATD2_STOMP"
}

stop_chatd_pg_redis() {
    [[ -n $CHATD2_PID ]] || return 0
    stop_chatd_pid "$CHATD2_PID"
    CHATD2_PID=
}

stop_pg_redis_backends() {
    stop_chatd_pg_redis
    if [[ -n $PR_REDIS_PID ]]; then stop_redis "$PR_REDIS_PID"; fi
    PR_REDIS_PID='' PR_REDIS_PORT=''
    stop_postgres
}

chatd_url() {   # HTTP_PORT STOMP_PORT
    case $TRANSPORT in
    tcp) echo "tcp://127.0.0.1:$2" ;;
    sockjs-ws | sockjs-xhr) echo "$TRANSPORT://127.0.0.1:$1/ws" ;;   # SockJS under /ws
    *) echo "ws://127.0.0.1:$1/ws" ;;
    esac
}

# ---- RabbitMQ ------------------------------------------------------------------

descendant_named() {   # PID NAME: the first descendant process called NAME
    local kid
    for kid in $(ps -o pid= --ppid "$1" 2>/dev/null); do
        if [[ $(ps -o comm= -p "$kid" 2>/dev/null) == "$2" ]]; then
            echo "$kid"
            return 0
        fi
        descendant_named "$kid" "$2" && return 0
    done
    return 1
}

start_rabbitmq() {
    [[ -x $RABBIT_SERVER ]] || die "rabbitmq-server is not installed"
    RABBIT_DIR=$(mktemp -d /tmp/chat-bench-rabbit.XXXXXX)
    free_port RABBIT_AMQP
    free_port RABBIT_DIST
    free_port RABBIT_EPMD_PORT
    free_port RABBIT_STOMP
    free_port RABBIT_WS
    RABBIT_NODE=chatbench$$x$RANDOM@localhost
    mkdir -p "$RABBIT_DIR/mnesia" "$RABBIT_DIR/log"
    cat > "$RABBIT_DIR/rabbitmq.conf" <<EOF
listeners.tcp.default = 127.0.0.1:$RABBIT_AMQP
stomp.listeners.tcp.1 = 127.0.0.1:$RABBIT_STOMP
stomp.tcp_listen_options.backlog = 4096
web_stomp.tcp.ip = 127.0.0.1
web_stomp.tcp.port = $RABBIT_WS
web_stomp.tcp.backlog = 4096
web_stomp.max_connections = infinity
web_stomp.cowboy_opts.idle_timeout = 3600000
web_stomp.ws_opts.idle_timeout = 3600000
loopback_users = none
log.file.level = warning
log.console = false
EOF
    echo '[rabbitmq_stomp,rabbitmq_web_stomp].' > "$RABBIT_DIR/enabled_plugins"
    chown -R rabbitmq:rabbitmq "$RABBIT_DIR"
    RABBITMQ_CONFIG_FILE=$RABBIT_DIR/rabbitmq RABBITMQ_ENABLED_PLUGINS_FILE=$RABBIT_DIR/enabled_plugins \
    RABBITMQ_MNESIA_BASE=$RABBIT_DIR/mnesia RABBITMQ_LOG_BASE=$RABBIT_DIR/log \
    RABBITMQ_FEATURE_FLAGS_FILE=$RABBIT_DIR/ff RABBITMQ_NODENAME=$RABBIT_NODE \
    RABBITMQ_NODE_IP_ADDRESS=127.0.0.1 RABBITMQ_NODE_PORT=$RABBIT_AMQP RABBITMQ_DIST_PORT=$RABBIT_DIST \
    ERL_EPMD_PORT=$RABBIT_EPMD_PORT HOME=/var/lib/rabbitmq \
        bash -c 'ulimit -n 20000; cd /var/lib/rabbitmq; exec setsid setpriv --reuid rabbitmq --regid rabbitmq \
            --init-groups '"$RABBIT_SERVER" > "$RABBIT_DIR/out.log" 2>&1 &
    RABBIT_PID=$!
    local i
    for ((i = 0; i < 1200; i++)); do
        grep -q "Starting broker.*completed\|Server startup complete" "$RABBIT_DIR/out.log" 2>/dev/null && break
        kill -0 "$RABBIT_PID" 2>/dev/null || die "rabbitmq-server exited; see $RABBIT_DIR/out.log"
        sleep 0.1
    done
    wait_port "$RABBIT_WS" 30 || die "RabbitMQ Web-STOMP did not listen; see $RABBIT_DIR/out.log"
    wait_port "$RABBIT_STOMP" 10 || die "RabbitMQ STOMP did not listen"
    RABBIT_BEAM=$(descendant_named "$RABBIT_PID" beam.smp) || die "no beam.smp under pid $RABBIT_PID"
    log "RabbitMQ pid $RABBIT_PID (beam.smp $RABBIT_BEAM) on amqp $RABBIT_AMQP, web-stomp $RABBIT_WS, stomp $RABBIT_STOMP"
}

stop_rabbitmq() {
    [[ -n $RABBIT_PID ]] || return 0
    local pgid i
    pgid=$(ps -o pgid= -p "$RABBIT_PID" 2>/dev/null | tr -d ' ') || true
    if [[ -n $pgid && $pgid == "$RABBIT_PID" ]]; then
        kill -TERM -- "-$pgid" 2>/dev/null || true
    else
        kill -TERM "$RABBIT_PID" 2>/dev/null || true
        if [[ -n ${RABBIT_BEAM:-} ]]; then kill -TERM "$RABBIT_BEAM" 2>/dev/null || true; fi
    fi
    for ((i = 0; i < 300; i++)); do
        kill -0 "$RABBIT_PID" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$RABBIT_PID" 2>/dev/null; then
        [[ -n $pgid && $pgid == "$RABBIT_PID" ]] && kill -KILL -- "-$pgid" 2>/dev/null
        kill -KILL "$RABBIT_PID" 2>/dev/null || true
    fi
    if [[ -n ${RABBIT_BEAM:-} ]]; then kill -KILL "$RABBIT_BEAM" 2>/dev/null || true; fi
    wait "$RABBIT_PID" 2>/dev/null || true
    # The epmd this node started on its own port.
    if [[ -n $RABBIT_EPMD_PORT ]]; then
        local epmd
        for epmd in $(ss -Hltnp "( sport = :$RABBIT_EPMD_PORT )" 2>/dev/null |
                      grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u); do
            if [[ $(ps -o comm= -p "$epmd" 2>/dev/null) == epmd ]]; then kill -TERM "$epmd" 2>/dev/null || true; fi
        done
    fi
    [[ -n $RABBIT_DIR ]] && rm -rf "$RABBIT_DIR"
    RABBIT_PID='' RABBIT_BEAM='' RABBIT_DIR='' RABBIT_EPMD_PORT=''
}

# ---- Redis, PostgreSQL, the Kafka mock -------------------------------------------

# start_redis durable|volatile: a redis-server of its own on a free port in a
# directory of its own. durable: appendonly yes, appendfsync always (the AOF
# is fsync'd before Redis replies). Sets REDIS_PORT and REDIS_PID.
start_redis() {
    command -v redis-server >/dev/null || die "redis-server is not installed"
    local dir persist=(--appendonly no) i
    dir=$(mktemp -d "$WORK/redis.XXXXXX")
    [[ $1 == durable ]] && persist=(--appendonly yes --appendfsync always)
    free_port REDIS_PORT
    redis-server --bind 127.0.0.1 --port "$REDIS_PORT" --dir "$dir" "${persist[@]}" --save '' \
        --logfile "$dir/redis.log" > /dev/null 2>&1 &
    REDIS_PID=$!
    REDIS_PIDS+="$REDIS_PID "
    for ((i = 0; i < 100; i++)); do
        [[ $(redis-cli -p "$REDIS_PORT" ping 2>/dev/null) == PONG ]] && break
        kill -0 "$REDIS_PID" 2>/dev/null || die "redis-server exited; see $dir/redis.log"
        sleep 0.1
    done
    log "redis-server ($1) pid $REDIS_PID on $REDIS_PORT"
}

stop_redis() {   # PID
    stop_pid "$1"
    REDIS_PIDS=${REDIS_PIDS/ $1 / }
}

# A PostgreSQL server of its own (initdb in a temp dir, run as the postgres
# user), fsync = on and synchronous_commit = on; database chatd, user chatd.
start_postgres() {
    [[ -x $PG_BIN/postgres ]] || die "no PostgreSQL in $PG_BIN"
    PG_DIR=$(mktemp -d /tmp/chat-bench-pg.XXXXXX)
    chown postgres:postgres "$PG_DIR"
    free_port PG_PORT
    local as_pg=(setpriv --reuid=postgres --regid=postgres --clear-groups --) i
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U chatd -A trust -E UTF8 --locale=C --no-sync \
        > "$WORK/initdb.log" 2>&1 || die "initdb failed; see $WORK/initdb.log"
    "${as_pg[@]}" "$PG_BIN/postgres" -D "$PG_DIR/data" -h 127.0.0.1 -p "$PG_PORT" -k "$PG_DIR" \
        -c fsync=on -c synchronous_commit=on > "$WORK/postgres.log" 2>&1 &
    PG_PID=$!
    for ((i = 0; i < 300; i++)); do
        "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1 && break
        kill -0 "$PG_PID" 2>/dev/null || die "postgres exited; see $WORK/postgres.log"
        sleep 0.1
    done
    "$PG_BIN/createdb" -h 127.0.0.1 -p "$PG_PORT" -U chatd chatd || die "createdb failed"
    log "postgres pid $PG_PID on $PG_PORT"
}

stop_postgres() {
    [[ -n $PG_PID ]] || return 0
    kill -INT "$PG_PID" 2>/dev/null || true   # fast shutdown
    local i
    for ((i = 0; i < 300; i++)); do
        kill -0 "$PG_PID" 2>/dev/null || break
        sleep 0.1
    done
    kill -KILL "$PG_PID" 2>/dev/null || true
    wait "$PG_PID" 2>/dev/null || true
    [[ -n $PG_DIR ]] && rm -rf "$PG_DIR"
    PG_PID='' PG_DIR=''
}

# A MariaDB server of its own (mariadb-install-db in a temp dir, run as the
# mysql user, never the system service), innodb_flush_log_at_trx_commit = 1
# (the redo log flushed at every commit); database chatd, user chatd.
start_mysql() {
    command -v mariadbd >/dev/null || [[ -x /usr/sbin/mariadbd ]] || die "no mariadbd (apt-get install mariadb-server)"
    MY_DIR=$(mktemp -d /tmp/chat-bench-mysql.XXXXXX)
    chmod 711 "$MY_DIR"
    chown mysql "$MY_DIR"
    mkdir "$MY_DIR/tmp"
    chown mysql "$MY_DIR/tmp"
    free_port MY_PORT
    local i
    /usr/bin/mariadb-install-db --no-defaults --user=mysql --datadir="$MY_DIR/data" --tmpdir="$MY_DIR/tmp" \
        --auth-root-authentication-method=socket --skip-test-db > "$WORK/mysql-install.log" 2>&1 ||
        die "mariadb-install-db failed; see $WORK/mysql-install.log"
    /usr/sbin/mariadbd --no-defaults --user=mysql --datadir="$MY_DIR/data" --tmpdir="$MY_DIR/tmp" --port="$MY_PORT" \
        --bind-address=127.0.0.1 --socket="$MY_DIR/sock" --pid-file="$MY_DIR/pid" --skip-log-bin \
        --innodb-flush-log-at-trx-commit=1 --skip-name-resolve --max-connections=300 \
        > "$WORK/mysql.log" 2>&1 &
    MY_PID=$!
    for ((i = 0; i < 300; i++)); do
        mariadb-admin --no-defaults --socket="$MY_DIR/sock" -u root ping >/dev/null 2>&1 && break
        kill -0 "$MY_PID" 2>/dev/null || die "mariadbd exited; see $WORK/mysql.log"
        sleep 0.1
    done
    mariadb --no-defaults --socket="$MY_DIR/sock" -u root -e "CREATE DATABASE chatd CHARACTER SET utf8mb4
        COLLATE utf8mb4_bin; CREATE USER 'chatd'@'127.0.0.1' IDENTIFIED BY 'chatd';
        GRANT ALL ON chatd.* TO 'chatd'@'127.0.0.1'" || die "could not create the chatd database"
    log "mariadbd pid $MY_PID on $MY_PORT"
}

stop_mysql() {
    [[ -n ${MY_PID:-} ]] || return 0
    kill -TERM "$MY_PID" 2>/dev/null || true
    wait "$MY_PID" 2>/dev/null || true
    [[ -n $MY_DIR ]] && rm -rf "$MY_DIR"
    MY_PID='' MY_DIR=''
}

pg_pids() {   # the postmaster and its children, comma-separated
    local p out=$PG_PID
    for p in $(ps -o pid= --ppid "$PG_PID" 2>/dev/null); do out+=",$p"; done
    echo "$out"
}

# librdkafka's mock cluster (tests/servers/kafka_mock.c): three brokers in
# one process; prints its bootstrap servers, exits when its stdin closes.
start_kafka() {
    [[ -x $KAFKA_MOCK ]] || die "no $KAFKA_MOCK (configure $BUILD with BUILD_TESTING=ON, build kafka_mock)"
    rm -f "$WORK/kafka.in" "$WORK/kafka.out"
    mkfifo "$WORK/kafka.in"
    "$KAFKA_MOCK" < "$WORK/kafka.in" > "$WORK/kafka.out" 2> "$WORK/kafka.err" &
    KAFKA_PID=$!
    exec {KAFKA_FD}> "$WORK/kafka.in"
    local i
    for ((i = 0; i < 100; i++)); do
        [[ -s $WORK/kafka.out ]] && break
        kill -0 "$KAFKA_PID" 2>/dev/null || die "kafka_mock exited; see $WORK/kafka.err"
        sleep 0.1
    done
    KAFKA_BOOTSTRAP=$(head -n 1 "$WORK/kafka.out")
    [[ -n $KAFKA_BOOTSTRAP ]] || die "kafka_mock printed no bootstrap servers"
    log "kafka_mock pid $KAFKA_PID at $KAFKA_BOOTSTRAP"
}

stop_kafka() {
    [[ -n $KAFKA_PID ]] || return 0
    if [[ -n $KAFKA_FD ]]; then exec {KAFKA_FD}>&-; fi
    KAFKA_FD=
    local i
    for ((i = 0; i < 100; i++)); do
        kill -0 "$KAFKA_PID" 2>/dev/null || break
        sleep 0.1
    done
    stop_pid "$KAFKA_PID"
    KAFKA_PID=
}

cleanup() {
    local rc=$? p
    trap - EXIT INT TERM
    if [[ -n $BENCH_PID ]]; then kill -TERM "$BENCH_PID" 2>/dev/null || true; fi
    for p in $PERF_PID; do kill -TERM "$p" 2>/dev/null || true; done
    for p in $CHATD_PIDS; do stop_pid "$p"; done
    CHATD_PIDS=" " CHATD_PID=
    stop_kafka
    for p in $REDIS_PIDS; do stop_pid "$p"; done
    REDIS_PIDS=" "
    stop_postgres
    stop_mysql
    stop_rabbitmq
    if [[ $rc -ne 0 ]]; then
        log "failed (exit $rc); logs kept in $WORK"
    elif [[ ${KEEP:-0} == 1 ]]; then
        log "logs and raw results kept in $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---- one run ----------------------------------------------------------------------

server_args() {   # SERVER
    case $1 in
    chatd)
        echo "--url $(chatd_url "$CHATD_HTTP" "$CHATD_STOMP") --login bench --passcode bench --server-pid $CHATD_PID"
        ;;
    chatd-pg-redis)
        echo "--url $(chatd_url "$CHATD2_HTTP" "$CHATD2_STOMP") --login bench --passcode bench --server-pid $CHATD2_PID"
        ;;
    rabbitmq)
        local url
        if [[ $TRANSPORT == tcp ]]; then url=tcp://127.0.0.1:$RABBIT_STOMP; else url=ws://127.0.0.1:$RABBIT_WS/ws; fi
        echo "--url $url --login guest --passcode guest --vhost / --server-pid $RABBIT_BEAM"
        ;;
    esac
}

server_pid() {
    case $1 in
    chatd) echo "$CHATD_PID" ;;
    chatd-pg-redis) echo "$CHATD2_PID" ;;
    rabbitmq) echo "$RABBIT_BEAM" ;;
    esac
}

server_port() {
    case $1 in
    chatd) [[ $TRANSPORT == tcp ]] && echo "$CHATD_STOMP" || echo "$CHATD_HTTP" ;;
    chatd-pg-redis) [[ $TRANSPORT == tcp ]] && echo "$CHATD2_STOMP" || echo "$CHATD2_HTTP" ;;
    rabbitmq) [[ $TRANSPORT == tcp ]] && echo "$RABBIT_STOMP" || echo "$RABBIT_WS" ;;
    esac
}

elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# CPU of the RUN_WATCH groups, and of this script's finished children
# ("loadgen": the load generator, from the output of `times`, which the
# caller writes to $WORK/times first: in a $(...) subshell it would count
# the subshell's children): one "NAME TICKS" line each. (Not /proc/stat:
# in a VM it samples on timer ticks and misses short bursts of work.)
watch_ticks() {
    local g p t v
    awk -v hz="$CLK_TCK" 'NR == 2 {
        for (i = 1; i <= 2; i++) { split($i, a, "m"); sub(/s$/, "", a[2]); t += a[1] * 60 + a[2] }
        printf "loadgen %d\n", t * hz }' "$WORK/times"
    for g in $RUN_WATCH; do
        t=0
        v=${g#*:}
        for p in ${v//,/ }; do
            v=$(cpu_ticks "${p}") || v=0
            t=$((t + ${v:-0}))
        done
        echo "${g%%:*} $t"
    done
}

watch_json() {   # BEFORE AFTER SECONDS: {"NAME_cpu_pct": ...}, in % of one core
    paste -d' ' <(echo "$1") <(echo "$2") | awk -v s="$3" -v hz="$CLK_TCK" '
        BEGIN { printf "{" } { printf "%s\"%s_cpu_pct\":%.1f", (NR > 1 ? "," : ""), $1, 100 * ($4 - $2) / hz / s }
        END { printf "}" }'
}

# perf_start NAME DELAY: 3 s from DELAY s on, a profile of the whole machine
# (perf record -a); with PERF_PG (PostgreSQL backend pids, comma-separated),
# also 2 s of call graphs of those.
PERF_PG=
PERF_TID=   # chatd's pid: its main thread's profile too
perf_start() {
    [[ $PERF == 1 && $RUN_PERF == 1 ]] || return 0
    (sleep "$2"; exec perf record -a -F 499 -o "$WORK/perf-$1.data" -- sleep 3) > /dev/null 2>&1 &
    PERF_PID=$!
    if [[ -n $PERF_PG ]]; then
        (sleep "$2"; exec perf record -F 499 --call-graph dwarf,16384 -p "$PERF_PG" -o "$WORK/perf-$1-pg.data" \
            -- sleep 2) > /dev/null 2>&1 &
        PERF_PID+=" $!"
    fi
}

perf_finish() {   # NAME: writes $WORK/perf/NAME.txt
    [[ -n $PERF_PID ]] || return 0
    local p
    for p in $PERF_PID; do wait "$p" 2>/dev/null || true; done
    PERF_PID=
    [[ -s $WORK/perf-$1.data ]] || return 0
    mkdir -p "$WORK/perf"
    {
        echo "CPU by process (100 % = all $(nproc) cores; swapper = idle):"
        perf report -i "$WORK/perf-$1.data" --stdio --sort comm --percent-limit 1 2>/dev/null |
            grep '%' | grep -v '^#' || true
        echo "Top symbols (process, library, symbol; idle left out):"
        perf report -i "$WORK/perf-$1.data" --stdio --sort comm,dso,sym --percent-limit 0.7 2>/dev/null |
            grep '%' | grep -v '^#' | grep -v swapper | head -n 16 || true
        if [[ -n $PERF_TID ]]; then
            echo "chatd's main thread (its event loop) by library:"
            perf report -i "$WORK/perf-$1.data" --stdio --tid "$PERF_TID" --percentage relative --sort dso \
                --percent-limit 2 2>/dev/null | grep '%' | grep -v '^#' || true
        fi
        if [[ -s $WORK/perf-$1-pg.data ]]; then
            perf report -i "$WORK/perf-$1-pg.data" --stdio --children --sort sym -g none 2>/dev/null | awk '
                $NF == "pg_parse_query" { parse = $1 }
                $NF ~ /^pg_analyze_and_rewrite_(varparams|fixedparams)$/ { an = $1 }
                $NF == "pg_plan_queries" { plan = $1 }
                $NF == "PortalRun" { run = $1 }
                $NF == "plpgsql_call_handler" { pl = $1 }
                $NF == "do_syscall_64" { sys = $1 }
                END {
                    printf "PostgreSQL backends of chatd (call graphs; share of their CPU in): parsing %s, analysis %s, " \
                        "planning %s, execution (PortalRun) %s, PL/pgSQL functions %s; system calls %s\n",
                        parse ? parse : "-", an ? an : "-", plan ? plan : "-", run ? run : "-", pl ? pl : "-",
                        sys ? sys : "-"
                }'
        fi
    } > "$WORK/perf/$1.txt"
    rm -f "$WORK/perf-$1.data" "$WORK/perf-$1-pg.data"
}

# record NAME SERVER LINE LOAD EXTRA_JSON: one line to $RESULTS.
record() {
    jq -c --arg server "$2" --argjson load "$4" --argjson extra "$5" --argjson run "$RUN_EXTRA" \
        '. + $run + $extra + {server: $server, loadavg: $load}' <<<"$3" >> "$RESULTS"
}

# run SERVER NAME chat-bench-args...: appends one JSON line to $RESULTS.
run() {
    local server=$1 name=$2
    shift 2
    local args
    args="$(server_args "$server") --json --label $name --destination-prefix /topic/bench. --source-addrs $SOURCE_ADDRS"
    [[ -n $PROCESSES ]] && args+=" --processes $PROCESSES"
    log "$server $name: chat-bench $* ..."
    echo "$name $server chat-bench $*" >> "$WORK/commands"
    local line rc=0 load w0 w1 t0 t1 p
    # Both servers quiet first: a RabbitMQ still cleaning up after a big run
    # (it frees gigabytes after the pairs) would take CPU from chatd's.
    for p in ${CHATD_PID:-} ${CHATD2_PID:-} ${RABBIT_BEAM:-}; do wait_cpu_quiet "$p"; done
    wait_machine_quiet
    load=$(cut -d' ' -f1 /proc/loadavg)
    times > "$WORK/times"
    w0=$(watch_ticks)
    t0=$(date +%s.%N)
    perf_start "$name" 4
    # In the background, so that a signal to this script is handled at once.
    # shellcheck disable=SC2086
    timeout --kill-after=10 900 "$BENCH" $args "$@" > "$WORK/run.json" 2> "$WORK/run.err" &
    BENCH_PID=$!
    wait "$BENCH_PID" || rc=$?
    BENCH_PID=''
    t1=$(date +%s.%N)
    times > "$WORK/times"
    w1=$(watch_ticks)
    perf_finish "$name"
    line=$(tail -n 1 "$WORK/run.json")
    if [[ $rc -ne 0 || ${line:0:1} != "{" ]]; then
        log "$server $name failed (exit $rc): $(tail -n 3 "$WORK/run.err" | tr '\n' ' ')"
        line="{\"label\":\"$name\",\"failed_run\":true,\"exit\":$rc}"
    elif [[ -s $WORK/run.err ]]; then
        log "$server $name stderr: $(head -n 3 "$WORK/run.err" | tr '\n' ' ')"
    fi
    record "$name" "$server" "$line" "$load" "$(watch_json "$w0" "$w1" "$(elapsed "$t0" "$t1")")"
    jq -r '"   -> ready \(.ready // "-") setups/s \(.setups_per_s // "-") delivered/s \(.delivered_per_s // "-") p50 \(.lat_p50_us // "-")us p99 \(.lat_p99_us // "-")us rss/session \(.rss_per_session_kb // "-")KB errors \((.error_frames // 0) + (.disconnects // 0) + (.connect_failures // 0))"' <<<"$line" >&2
    wait_quiet "$(server_port "$server")" "$(server_pid "$server")"
}

start_server() {
    case $1 in chatd) start_chatd ;; chatd-pg-redis) start_chatd_pg_redis ;; rabbitmq) start_rabbitmq ;; esac
}
stop_server() {
    case $1 in chatd) stop_chatd ;; chatd-pg-redis) stop_chatd_pg_redis ;; rabbitmq) stop_rabbitmq ;; esac
}

# ---- chatd vs RabbitMQ -------------------------------------------------------------

# The servers take turns scenario by scenario, so that both see about the
# same machine (other load on it changes over minutes).

# Idle: a fresh server per size and server, so that the RSS growth is the
# sessions' own; only that server runs.
if want idle; then
    for n in $IDLE_SIZES; do
        for server in $SERVERS; do
            start_server "$server"
            run "$server" "idle-$n" --scenario idle --sessions "$n" --duration "$IDLE_HOLD"
            stop_server "$server"
        done
    done
fi

# Idle over several chatd instances at once (chatd only: one RabbitMQ node is
# one process, held to 20,000 open files here): each instance (memory
# storage, simple broker: nothing is shared between them) gets its share of
# the sessions from a chat-bench of its own, all running together; one line
# with the sums (RSS, sessions) and the slowest instance's set-up figures.
if want idle && [[ -n $IDLE_CLUSTER && " $SERVERS " == *" chatd "* ]]; then
    cl_total=${IDLE_CLUSTER%x*}
    cl_n=${IDLE_CLUSTER#*x}
    cl_per=$(((cl_total + cl_n - 1) / cl_n))
    cl_name="idle-${cl_total}x$cl_n"
    cl_pids=()
    cl_urls=()
    for ((i = 0; i < cl_n; i++)); do
        free_port CL_HTTP
        free_port CL_STOMP
        write_chat_ini "$WORK/chat-idle-$i.ini" "$CL_HTTP" "$CL_STOMP" "plugin = memory" "plugin = simple"
        launch_chatd "idle-$i" "$WORK/chat-idle-$i.ini" "$CL_HTTP" "$CL_STOMP"
        cl_pids+=("$LAUNCHED")
        cl_urls+=("$(chatd_url "$CL_HTTP" "$CL_STOMP")")
    done
    log "chatd $cl_name: $cl_n instances (pids ${cl_pids[*]}), $cl_per sessions each ..."
    echo "$cl_name chatd $cl_n x chat-bench --scenario idle --sessions $cl_per --duration $IDLE_HOLD" >> "$WORK/commands"
    wait_machine_quiet
    cl_load=$(cut -d' ' -f1 /proc/loadavg)
    cl_bench=()
    for ((i = 0; i < cl_n; i++)); do
        timeout --kill-after=10 900 "$BENCH" --url "${cl_urls[i]}" --login bench --passcode bench \
            --server-pid "${cl_pids[i]}" --json --label "$cl_name" --destination-prefix /topic/bench. \
            --source-addrs "$SOURCE_ADDRS" --scenario idle --sessions "$cl_per" --duration "$IDLE_HOLD" \
            > "$WORK/cluster-$i.json" 2> "$WORK/cluster-$i.err" &
        cl_bench+=($!)
    done
    cl_rc=0
    for p in "${cl_bench[@]}"; do wait "$p" || cl_rc=$?; done
    if [[ $cl_rc -eq 0 ]] && cl_line=$(for ((i = 0; i < cl_n; i++)); do tail -n 1 "$WORK/cluster-$i.json"; done |
        jq -sc --argjson n "$cl_n" '{scenario: "idle", transport: .[0].transport, label: .[0].label,
            instances: $n, sessions: (map(.sessions) | add), duration_s: .[0].duration_s,
            ready: (map(.ready) | add), failed: (map(.failed) | add),
            setup_s: (map(.setup_s) | max), setups_per_s: ((map(.ready) | add) / (map(.setup_s) | max)),
            setup_p50_ms: (map(.setup_p50_ms) | max), setup_p99_ms: (map(.setup_p99_ms) | max),
            setup_max_ms: (map(.setup_max_ms) | max),
            error_frames: (map(.error_frames) | add), disconnects: (map(.disconnects) | add),
            connect_failures: (map(.connect_failures) | add), timeouts: (map(.timeouts) | add),
            rss_start_kb: (map(.rss_start_kb) | add), rss_end_kb: (map(.rss_end_kb) | add),
            rss_per_session_kb: (((map(.rss_end_kb) | add) - (map(.rss_start_kb) | add)) / (map(.ready) | add)),
            server_cpu_setup_s: (map(.server_cpu_setup_s) | add), server_cpu_setup_pct: (map(.server_cpu_setup_pct) | add),
            server_cpu_pct: (map(.server_cpu_pct) | add), bench_cpu_s: (map(.bench_cpu_s) | add)}'); then
        record "$cl_name" chatd "$cl_line" "$cl_load" "{}"
        jq -r '"   -> ready \(.ready) setups/s \(.setups_per_s) rss/session \(.rss_per_session_kb)KB"' <<<"$cl_line" >&2
    else
        log "chatd $cl_name failed: $(cat "$WORK"/cluster-*.err | tail -n 3 | tr '\n' ' ')"
        record "$cl_name" chatd "{\"label\":\"$cl_name\",\"failed_run\":true,\"exit\":$cl_rc}" "$cl_load" "{}"
    fi
    for p in "${cl_pids[@]}"; do stop_chatd_pid "$p"; done
fi

# The rest: every server up (an idle RabbitMQ takes about 1 % of a core,
# an idle chatd nothing), each scenario against one, then the next.
if want connect || want pairs || want fanout; then
    for server in $SERVERS; do
        start_server "$server"
    done
    if want connect; then
        for server in $SERVERS; do
            run "$server" "connect-$CONNECT" --scenario connect --sessions "$CONNECT" \
                --concurrency "$CONNECT_CONCURRENCY" --idle-subs 0
        done
    fi
    if want pairs; then
        for server in $SERVERS; do
            run "$server" "pairs-$PAIRS" --scenario pairs --sessions $((PAIRS * 2)) --rate "$PAIRS_RATE" \
                --duration "$DURATION" --drain "$DRAIN" --body-size "$BODY_SIZE"
        done
    fi
    if want fanout; then
        for server in $SERVERS; do
            for rate in $FANOUT_RATES; do
                run "$server" "fanout-${FANOUT_ROOMS}x$FANOUT_MEMBERS-rate-$((rate * FANOUT_MEMBERS))" --scenario fanout \
                    --sessions "$FANOUT_SESSIONS" --rooms "$FANOUT_ROOMS" --members "$FANOUT_MEMBERS" \
                    --rate "$rate" --duration "$DURATION" --drain "$DRAIN" --body-size "$BODY_SIZE"
            done
        done
        if [[ $FANOUT_MAX == 1 ]]; then
            for server in $SERVERS; do
                run "$server" "fanout-${FANOUT_ROOMS}x$FANOUT_MEMBERS-max" --scenario fanout \
                    --sessions "$FANOUT_SESSIONS" --rooms "$FANOUT_ROOMS" --members "$FANOUT_MEMBERS" --rate 0 \
                    --window "$FANOUT_WINDOW" --duration "$DURATION" --drain "$DRAIN" --body-size "$BODY_SIZE"
            done
        fi
    fi
    for server in $SERVERS; do
        stop_server "$server"
    done
fi
# The storage section starts its own, fresh.
stop_pg_redis_backends

# ---- storage: history queries and durable appends ------------------------------------

create_room() {   # HTTP_PORT TITLE: prints the new group room's id
    curl -sf -u bench:bench -H 'Content-Type: application/json' -X POST \
        -d "{\"kind\":\"group\",\"title\":\"$2\"}" "http://127.0.0.1:$1/api/rooms" | jq -re .id
}

# seed_room STOMP_PORT ROOM COUNT: stores COUNT messages (STOMP over TCP,
# every SEND with a receipt) and waits for every receipt.
seed_room() {
    /usr/bin/python3 - "$@" <<'PY'
import socket
import sys

port, room, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = socket.create_connection(("127.0.0.1", port), timeout=120)
s.sendall(b"CONNECT\naccept-version:1.2\nhost:/\nlogin:bench\npasscode:bench\nheart-beat:0,0\n\n\0")
buf = b""


def frame():
    global buf
    while b"\0" not in buf:
        d = s.recv(65536)
        if not d:
            sys.exit("seed: the server closed the connection")
        buf += d
    f, buf = buf.split(b"\0", 1)
    return f.lstrip(b"\r\n")


f = frame()
if not f.startswith(b"CONNECTED"):
    sys.exit("seed: " + f.decode(errors="replace")[:300])
out = []
for i in range(n):
    body = ("history message %d " % (i + 1)).ljust(64, "x").encode()
    out.append(b"SEND\ndestination:/app/rooms/%s/send\nreceipt:s%d\nclient-id:seed-%d\ncontent-type:text/plain\n"
               b"content-length:%d\n\n%s\0" % (room.encode(), i, i, len(body), body))
s.sendall(b"".join(out))
got = 0
while got < n:
    f = frame()
    if f.startswith(b"RECEIPT"):
        got += 1
    elif f.startswith(b"ERROR"):
        sys.exit("seed: " + f.decode(errors="replace")[:300])
s.close()
PY
}

# wrk's report as one JSON line (latency in microseconds).
cat > "$WORK/report.lua" <<'LUA'
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"duration_us":%d,"bytes":%d,"errors_connect":%d,"errors_read":%d,' ..
    '"errors_write":%d,"errors_status":%d,"errors_timeout":%d,"lat_p50_us":%.1f,"lat_p90_us":%.1f,' ..
    '"lat_p99_us":%.1f,"lat_p999_us":%.1f,"lat_max_us":%.1f,"lat_mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.max, latency.mean))
end
LUA

# The history requests: the newest HISTORY_LIMIT before a cursor, each
# request the next cursor of its thread, spread over the seeded messages so
# that concurrent requests are rarely the same one (the PostgreSQL plugin
# runs identical reads queued together once).
cat > "$WORK/history.lua" <<LUA
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  local first, last = $((HISTORY_LIMIT + 1)), $((HISTORY_SEED + 1))
  local before = first + (n * 7919 + tid * 104729) % (last - first + 1)
  return wrk.format(nil, wrk.path .. "&before=" .. before)
end
LUA
cat "$WORK/report.lua" >> "$WORK/history.lua"

# The search requests: one room's messages holding "message N x", N spread
# over the seeded messages as the history cursors are (each query finds
# one message: the seeded bodies are "history message N xxx...").
cat > "$WORK/search.lua" <<LUA
local threads = 0
setup = function(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
local n = 0
request = function()
  n = n + 1
  local k = 1 + (n * 7919 + tid * 104729) % $HISTORY_SEED
  return wrk.format(nil, wrk.path .. "&q=message%20" .. k .. "%20x")
end
LUA
cat "$WORK/report.lua" >> "$WORK/search.lua"

# wrk_queries NAME SCENARIO URL LUA SHOWN: GET requests of URL (made by the
# LUA script's request()) with wrk for HISTORY_DURATION seconds, recorded as
# SCENARIO; SHOWN is the request as the commands list names it.
wrk_queries() {
    local name=$1 scenario=$2 url=$3 lua=$4 shown=$5 line rc=0 load w0 w1 t0 t1 port
    port=${url#http://127.0.0.1:}
    port=${port%%/*}
    wait_machine_quiet
    log "chatd $name: wrk -t$HISTORY_THREADS -c$HISTORY_CONNECTIONS -d${HISTORY_DURATION}s ..."
    echo "$name chatd wrk -t$HISTORY_THREADS -c$HISTORY_CONNECTIONS -d${HISTORY_DURATION}s --latency" \
        "-H 'Authorization: Basic ...' $shown" >> "$WORK/commands"
    load=$(cut -d' ' -f1 /proc/loadavg)
    times > "$WORK/times"
    w0=$(watch_ticks)
    t0=$(date +%s.%N)
    perf_start "$name" 4
    timeout --kill-after=10 $((HISTORY_DURATION + 60)) "$WRK" -t"$HISTORY_THREADS" -c"$HISTORY_CONNECTIONS" \
        -d"${HISTORY_DURATION}s" --latency -s "$lua" -H "Authorization: Basic $BASIC" "$url" \
        > "$WORK/wrk.out" 2> "$WORK/wrk.err" &
    BENCH_PID=$!
    wait "$BENCH_PID" || rc=$?
    BENCH_PID=''
    t1=$(date +%s.%N)
    times > "$WORK/times"
    w1=$(watch_ticks)
    perf_finish "$name"
    line=$(grep '^{' "$WORK/wrk.out" | tail -n 1) || true
    if [[ $rc -ne 0 || -z $line ]]; then
        log "chatd $name failed (exit $rc): $(tail -n 3 "$WORK/wrk.err" | tr '\n' ' ')"
        line="{\"label\":\"$name\",\"failed_run\":true,\"exit\":$rc}"
    else
        line=$(jq -c --arg name "$name" --arg sc "$scenario" --argjson c "$HISTORY_CONNECTIONS" \
            --argjson t "$HISTORY_THREADS" --argjson limit "$HISTORY_LIMIT" --argjson seed "$HISTORY_SEED" \
            '. + {"label": $name, scenario: $sc, connections: $c, threads: $t, limit: $limit, seeded: $seed,
                  queries_per_s: (.requests / (.duration_us / 1e6))}' <<<"$line")
    fi
    record "$name" chatd "$line" "$load" "$(watch_json "$w0" "$w1" "$(elapsed "$t0" "$t1")")"
    jq -r '"   -> queries/s \(.queries_per_s // "-") p50 \(.lat_p50_us // "-")us p99 \(.lat_p99_us // "-")us non-2xx \(.errors_status // "-")"' \
        <<<"$line" >&2
    wait_quiet "$port" "$CHATD_PID"
}

# history NAME HTTP_PORT ROOM: newest-N-before-a-cursor history queries with wrk.
history() {
    local url n
    url="http://127.0.0.1:$2/api/rooms/$3/messages?limit=$HISTORY_LIMIT"
    n=$(curl -sf -H "Authorization: Basic $BASIC" "$url&before=$((HISTORY_LIMIT + 1))" | jq '.messages | length') || n=0
    [[ $n == "$HISTORY_LIMIT" ]] || log "$1: a history page has $n messages, not $HISTORY_LIMIT"
    wrk_queries "$1" history "$url" "$WORK/history.lua" \
        "'/api/rooms/ROOM/messages?limit=$HISTORY_LIMIT&before=CURSOR' (CURSOR $((HISTORY_LIMIT + 1))..$((HISTORY_SEED + 1)), spread)"
}

# search NAME HTTP_PORT ROOM: searches of one room with wrk, each finding
# one of the seeded messages.
search() {
    local url n
    url="http://127.0.0.1:$2/api/rooms/$3/search?limit=$HISTORY_LIMIT"
    n=$(curl -sf -H "Authorization: Basic $BASIC" "$url&q=message%201%20x" | jq '.messages | length') || n=0
    [[ $n == 1 ]] || log "$1: a search found $n messages, not 1"
    wrk_queries "$1" search "$url" "$WORK/search.lua" \
        "'/api/rooms/ROOM/search?limit=$HISTORY_LIMIT&q=message%20N%20x' (N 1..$HISTORY_SEED, spread)"
}

if want storage; then
    # The disk under the data directories, for reading the durable figures.
    FSYNC_WRITES_PER_S=$(dd if=/dev/zero of="$WORK/fsync.test" bs=4k count=1000 oflag=dsync 2>&1 |
        awk '/copied/ { for (i = 1; i <= NF; i++) if ($i == "s,") print int(1000 / $(i - 1)) }') || true
    rm -f "$WORK/fsync.test"
    if [[ " $STORAGES " == *" redis "* ]]; then
        start_redis durable
        STORE_REDIS_PORT=$REDIS_PORT STORE_REDIS_PID=$REDIS_PID
    fi
    if [[ " $STORAGES " == *" postgres "* ]]; then start_postgres; fi
    if [[ " $STORAGES " == *" mysql "* ]]; then start_mysql; fi
    for st in $STORAGES; do
        case $st in
        memory) conf=$'plugin = memory\nmax_messages_per_room = 100000000' ;;
        sqlite) conf=$'plugin = sqlite\npath = '"$WORK/sqlite-full.db"$'\nsynchronous = full' ;;
        sqlite-normal) conf=$'plugin = sqlite\npath = '"$WORK/sqlite-normal.db"$'\nsynchronous = normal' ;;
        redis) conf=$'plugin = redis\naddress = 127.0.0.1:'"$STORE_REDIS_PORT" ;;
        postgres) conf=$'plugin = postgres\nconninfo = host=127.0.0.1 port='"$PG_PORT"' dbname=chatd user=chatd' ;;
        mysql) conf=$'plugin = mysql\nhost = 127.0.0.1\nport = '"$MY_PORT"$'\nuser = chatd\npassword = chatd\ndatabase = chatd' ;;
        esac
        free_port CHATD_HTTP
        free_port CHATD_STOMP
        write_chat_ini "$WORK/chat-$st.ini" "$CHATD_HTTP" "$CHATD_STOMP" "$conf" "plugin = simple"
        launch_chatd "chatd-$st" "$WORK/chat-$st.ini" "$CHATD_HTTP" "$CHATD_STOMP"
        CHATD_PID=$LAUNCHED
        log "chatd pid $CHATD_PID (storage $st) on http $CHATD_HTTP, stomp $CHATD_STOMP"
        # chatd_loop: its main thread, the event loop.
        RUN_WATCH="chatd:$CHATD_PID chatd_loop:$CHATD_PID/task/$CHATD_PID"
        PERF_TID=$CHATD_PID
        case $st in
        redis) RUN_WATCH+=" backend:$STORE_REDIS_PID" ;;
        postgres)
            # All of PostgreSQL, and each backend process serving chatd (one per connection).
            RUN_WATCH+=" backend:$(pg_pids)"
            PERF_PG=$(ps -o pid=,args= --ppid "$PG_PID" | awk '/postgres: chatd chatd/ { printf "%s%s", n++ ? "," : "", $1 }')
            n=0
            for p in ${PERF_PG//,/ }; do RUN_WATCH+=" pgconn$((n++)):$p"; done
            ;;
        mysql) RUN_WATCH+=" backend:$MY_PID" ;;
        esac
        RUN_EXTRA=$(jq -nc --arg st "$st" '{section: "storage", storage: $st}')
        case $st in redis | postgres) RUN_PERF=1 ;; *) RUN_PERF=0 ;; esac

        room=$(create_room "$CHATD_HTTP" history) || die "could not create a room on chatd ($st)"
        seed_room "$CHATD_STOMP" "$room" "$HISTORY_SEED" || die "could not seed the history room ($st)"
        # Statistics as autovacuum would have them a minute later (a fresh
        # table is planned as nearly empty: a scan of the whole room).
        if [[ $st == postgres ]]; then "$PG_BIN/psql" -h 127.0.0.1 -p "$PG_PORT" -U chatd -qc ANALYZE chatd; fi
        if [[ $st == mysql ]]; then
            mariadb --no-defaults --socket="$MY_DIR/sock" -u root -e 'ANALYZE TABLE chatd.chatd_messages' >/dev/null
        fi
        history "history-$st" "$CHATD_HTTP" "$room"
        search "search-$st" "$CHATD_HTTP" "$room"

        room=$(create_room "$CHATD_HTTP" appends) || die "could not create a room on chatd ($st)"
        run chatd "appends-$st" --scenario appends --room "$room" --sessions "$APPENDS_SESSIONS" \
            --window "$APPENDS_WINDOW" --duration "$DURATION" --drain "$DRAIN" --body-size "$BODY_SIZE"

        stop_chatd
        RUN_WATCH='' RUN_EXTRA='{}' RUN_PERF=0 PERF_PG='' PERF_TID=
    done
    for p in $REDIS_PIDS; do stop_redis "$p"; done
    stop_postgres
    stop_mysql
fi

# ---- brokers: delivery latency from one instance to another ----------------------------

if want brokers; then
    start_redis volatile   # the storage both instances share
    CLUSTER_REDIS_PORT=$REDIS_PORT CLUSTER_REDIS_PID=$REDIS_PID
    for b in $BROKERS; do
        backend=
        case $b in
        simple) bconf="plugin = simple" ;;
        redis)
            start_redis volatile
            backend=$REDIS_PID
            bconf=$'plugin = redis\naddress = 127.0.0.1:'"$REDIS_PORT"
            ;;
        rabbitmq)
            [[ -n $RABBIT_PID ]] || start_rabbitmq
            backend=$RABBIT_BEAM
            bconf=$'plugin = rabbitmq\nhost = 127.0.0.1\nport = '"$RABBIT_AMQP"
            ;;
        kafka)
            start_kafka
            backend=$KAFKA_PID
            bconf=$'plugin = kafka\nbrokers = '"$KAFKA_BOOTSTRAP"$'\nkafka.fetch.wait.max.ms = 10'
            ;;
        esac
        sconf=$'plugin = redis\naddress = 127.0.0.1:'"$CLUSTER_REDIS_PORT"$'\nprefix = chatd-bench-'"$b:"
        # Instance A takes the publishers, B the subscribers (simple: one instance).
        free_port A_HTTP
        free_port A_STOMP
        write_chat_ini "$WORK/chat-$b-a.ini" "$A_HTTP" "$A_STOMP" "$sconf" "$bconf"
        launch_chatd "chatd-$b-a" "$WORK/chat-$b-a.ini" "$A_HTTP" "$A_STOMP"
        A_PID=$LAUNCHED
        if [[ $b == simple ]]; then
            CHATD_HTTP=$A_HTTP CHATD_STOMP=$A_STOMP CHATD_PID=$A_PID
            RUN_WATCH=
            instances=1
        else
            free_port CHATD_HTTP
            free_port CHATD_STOMP
            write_chat_ini "$WORK/chat-$b-b.ini" "$CHATD_HTTP" "$CHATD_STOMP" "$sconf" "$bconf"
            launch_chatd "chatd-$b-b" "$WORK/chat-$b-b.ini" "$CHATD_HTTP" "$CHATD_STOMP"
            CHATD_PID=$LAUNCHED
            RUN_WATCH="publisher_instance:$A_PID"
            [[ -n $backend ]] && RUN_WATCH+=" backend:$backend"
            instances=2
            sleep 1   # the instances' presence exchange
        fi
        log "broker $b: publishers on chatd $A_PID, subscribers on chatd $CHATD_PID"
        RUN_EXTRA=$(jq -nc --arg b "$b" --argjson i "$instances" '{section: "brokers", broker: $b, instances: $i}')
        run chatd "broker-$b" --scenario pairs --sessions $((BROKER_PAIRS * 2)) --rate "$BROKER_RATE" \
            --publish-url "$(chatd_url "$A_HTTP" "$A_STOMP")" --duration "$DURATION" --drain "$DRAIN" \
            --body-size "$BODY_SIZE"
        [[ $CHATD_PID != "$A_PID" ]] && stop_chatd
        stop_chatd_pid "$A_PID"
        CHATD_PID=
        RUN_WATCH='' RUN_EXTRA='{}'
        case $b in
        redis) stop_redis "$backend" ;;
        rabbitmq) stop_rabbitmq ;;
        kafka) stop_kafka ;;
        esac
    done
    stop_redis "$CLUSTER_REDIS_PID"
fi

# ---- flow: a publisher blasting at a slow and a normal reader -----------------------

# chatd in three settings, a fresh instance each: (a) the default byte rate
# per publisher (1M); (b) none, only the readers' full queues hold the
# publisher back; (c) as (b), two normal readers and no slow one. RabbitMQ,
# if in SERVERS, in (a)'s and (c)'s shape.
if want flow; then
    flow_args=(--scenario blast --count "$FLOW_COUNT" --body-size "$FLOW_BODY" --slow-read-rate "$FLOW_SLOW_RATE"
               --duration 120)
    for setting in "a 1M 1 1" "b 0 1 1" "c 0 2 0"; do
        read -r name bytes normal slow <<<"$setting"
        CHATD_SEND_BYTES=$bytes
        RUN_EXTRA=$(jq -nc --arg s "$name" --arg b "$bytes" '{section: "flow", setting: $s, send_bytes: $b}')
        start_chatd
        run chatd "flow-$name" "${flow_args[@]}" --readers "$normal" --slow-readers "$slow"
        stop_chatd
    done
    CHATD_SEND_BYTES=0
    if [[ " $SERVERS " == *" rabbitmq "* ]]; then
        start_rabbitmq
        for setting in "a 1 1" "c 2 0"; do
            read -r name normal slow <<<"$setting"
            RUN_EXTRA=$(jq -nc --arg s "$name" '{section: "flow", setting: $s}')
            run rabbitmq "flow-$name" "${flow_args[@]}" --readers "$normal" --slow-readers "$slow"
        done
        stop_rabbitmq
    fi
    RUN_EXTRA='{}'
fi

# ---- sockjs: SockJS beside plain WebSocket (chatd only) -----------------------------

# chatd (memory + simple) with its defaults for SockJS (a streaming response
# ends after sockjs_response_limit = 128K and the client opens the next):
# idle sessions on a fresh chatd per transport (memory per session), then
# one chatd for the fan-out runs, the transports taking turns.
if want sockjs; then
    saved_transport=$TRANSPORT
    for t in $SOCKJS_TRANSPORTS; do
        TRANSPORT=$t
        RUN_EXTRA=$(jq -nc --arg t "$t" '{section: "sockjs", over: $t}')
        start_chatd
        run chatd "sockjs-idle-$SOCKJS_IDLE-$t" --scenario idle --sessions "$SOCKJS_IDLE" --duration "$IDLE_HOLD"
        stop_chatd
    done
    start_chatd
    for kind in rate max; do
        for t in $SOCKJS_TRANSPORTS; do
            TRANSPORT=$t
            RUN_EXTRA=$(jq -nc --arg t "$t" '{section: "sockjs", over: $t}')
            if [[ $kind == rate ]]; then
                run chatd "sockjs-fanout-rate-$((SOCKJS_RATE * SOCKJS_MEMBERS))-$t" --scenario fanout \
                    --sessions "$SOCKJS_SESSIONS" --rooms "$SOCKJS_ROOMS" --members "$SOCKJS_MEMBERS" \
                    --rate "$SOCKJS_RATE" --duration "$DURATION" --drain "$DRAIN" --body-size "$BODY_SIZE"
            else
                run chatd "sockjs-fanout-max-$t" --scenario fanout --sessions "$SOCKJS_SESSIONS" \
                    --rooms "$SOCKJS_ROOMS" --members "$SOCKJS_MEMBERS" --rate 0 --window "$FANOUT_WINDOW" \
                    --duration "$DURATION" --drain "$DRAIN" --body-size "$BODY_SIZE"
            fi
        done
    done
    stop_chatd
    TRANSPORT=$saved_transport
    RUN_EXTRA='{}'
fi

# ---- RESULTS.md -------------------------------------------------------------------

cpu_model=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')
mem_total=$(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo)
chatd_version=$("$CHATD" --version 2>/dev/null || echo unknown)
chatd_commit=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n $(git -C "$ROOT" status --porcelain --untracked-files=no -- core plugins sdk 2>/dev/null) ]]; then
    chatd_commit+=" (with uncommitted changes)"
fi
pkg_version() { dpkg-query -W -f '${Version}' "$1" 2>/dev/null || echo unknown; }

export RESULTS_FILE=$RESULTS COMMANDS_FILE=$WORK/commands OUT_FILE=$OUT PERF_DIR=$WORK/perf
M_NPROC=$(nproc)
M_KERNEL=$(uname -sr)
M_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
M_DISK=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
export M_NPROC M_CPU=$cpu_model M_MEM=$mem_total M_KERNEL M_DATE M_DISK M_FSYNC=${FSYNC_WRITES_PER_S:-}
V_CHATD="$chatd_version, commit $chatd_commit"
V_RABBIT=$(pkg_version rabbitmq-server)
V_ERLANG=$(pkg_version erlang-base)
V_LWS=$(pkg_version libwebsockets-dev)
V_LIBEVENT=$(pkg-config --modversion libevent 2>/dev/null || echo unknown)
V_REDIS=$(redis-server --version 2>/dev/null | grep -o 'v=[0-9.]*' | cut -d= -f2 || true)
V_PG=$("$PG_BIN/postgres" --version 2>/dev/null | awk '{print $3}' || true)
V_SQLITE=$(pkg_version libsqlite3-0)
V_RDKAFKA=$(pkg-config --modversion rdkafka 2>/dev/null || echo unknown)
V_WRK=$("$WRK" -v 2>&1 | head -n 1 | awk '{print $2}' || true)   # wrk -v exits 1
export V_CHATD V_RABBIT V_ERLANG V_LWS V_LIBEVENT V_REDIS V_PG V_SQLITE V_RDKAFKA V_WRK
export P_TRANSPORT=$TRANSPORT P_DURATION=$DURATION P_BODY=$BODY_SIZE P_PAIRS_RATE=$PAIRS_RATE P_FANOUT_RATES="$FANOUT_RATES" \
    P_FANOUT_WINDOW=$FANOUT_WINDOW P_SRC=$SOURCE_ADDRS P_IDLE_HOLD=$IDLE_HOLD P_CONNECT_CONCURRENCY=$CONNECT_CONCURRENCY
/usr/bin/python3 "$HERE/results.py"
log "wrote $OUT"
