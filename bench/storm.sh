#!/usr/bin/env bash
# Reconnect storms: chat-bench's connect and reconnect scenarios against one
# chatd on loopback, with the shipped etc/chat.ini (AUTHS static: its four
# demo users, PBKDF2 at 100,000 iterations, sqlite, simple broker), with
# STATIC_USERS distinct users hashed the same way instead (static-many: the
# sessions share no credentials, so every user costs a PBKDF2), and with the
# jwt plugin and a Redis revocation list (jwt) — the same chat.ini with its
# [auth] section replaced.
# Every run gets a freshly started server. Prints one JSON object per run
# (chat-bench --json) to OUT and a summary table to stderr. See
# bench/README.md, "Reconnect storms".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-$ROOT/build}
CHATD=${CHATD:-$BUILD/core/chatd}
PLUGIN_DIR=${PLUGIN_DIR:-$BUILD/plugins}
BENCH=${BENCH:-$BUILD/bench/chat-bench}
TOKEN=${TOKEN:-$BUILD/core/chatd-token}
SESSIONS=${SESSIONS:-2000}
AUTHS=${AUTHS:-static static-many jwt}
SCENARIOS=${SCENARIOS:-connect reconnect}
SOURCE_ADDRS=${SOURCE_ADDRS:-127.0.0.1-127.0.0.50}
CONCURRENCY=${CONCURRENCY:-$SESSIONS}   # set-ups in progress at once (reconnect: the storm itself is all at once)
JWT_USERS=${JWT_USERS:-2000}
STATIC_USERS=${STATIC_USERS:-500}   # static-many: distinct users, each its own password
LABEL=${LABEL:-}
OUT=${OUT:-/dev/stdout}

log() { printf '[storm %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "error: $*"; exit 1; }
for p in "$CHATD" "$BENCH" "$TOKEN"; do [[ -x $p ]] || die "$p is missing: build first"; done
command -v jq >/dev/null || die "jq is needed"

WORK=$(mktemp -d /tmp/chatd-storm.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    [[ ${KEEP:-0} == 1 ]] || rm -rf "$WORK"
}
trap cleanup EXIT
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)"

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_healthy() {   # PORT
    for _ in $(seq 200); do
        curl -fsS -o /dev/null "http://127.0.0.1:$1/healthz" 2>/dev/null && return 0
        sleep 0.1
    done
    die "chatd on $1 did not become healthy (log: $WORK/chatd.log)"
}

# The shipped demo users: password = user name (etc/chat.ini).
printf 'alice alice\nbob bob\nagent1 agent1\nagent2 agent2\n' > "$WORK/static-users"

REDIS_PORT=
start_redis() {
    REDIS_PORT=$(free_port)
    redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize no \
        > "$WORK/redis.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 100); do redis-cli -p "$REDIS_PORT" ping >/dev/null 2>&1 && return 0; sleep 0.1; done
    die "redis-server did not start"
}

export CHAT_JWT_SECRET=${CHAT_JWT_SECRET:-storm-bench-secret-0123456789}
jwt_setup() {
    start_redis
    # etc/chat.ini with [auth] replaced by jwt + the revocation list.
    awk -v port="$REDIS_PORT" '
        /^\[auth\]/ { print "[auth]\nplugin = jwt\nalgorithm = HS256\nsecret = ${CHAT_JWT_SECRET}\nrevocation = redis\nredis_address = 127.0.0.1:" port "\n"; skip = 1; next }
        /^\[/ { skip = 0 }
        !skip' "$ROOT/etc/chat.ini" > "$WORK/jwt.ini"
    # One revoked token's jti, so that the list is not empty.
    redis-cli -p "$REDIS_PORT" set chatd:revoked:gone 1 >/dev/null
    log "minting $JWT_USERS tokens"
    for i in $(seq "$JWT_USERS"); do
        printf 'u%d %s\n' "$i" "$("$TOKEN" --user "u$i" --ttl 7200 --jti "storm-$i")"
    done > "$WORK/jwt-users"
}

many_setup() {
    log "hashing $STATIC_USERS passwords (PBKDF2-SHA256, 100,000 iterations)"
    /usr/bin/python3 - "$WORK" "$STATIC_USERS" "$ROOT/etc/chat.ini" <<'PY'
import hashlib, os, re, sys
work, n, shipped = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
auth, users = ["[auth]", "plugin = static"], []
for i in range(n):
    salt = os.urandom(16)
    pw = "pw-%d" % i
    h = hashlib.pbkdf2_hmac("sha256", pw.encode(), salt, 100000, 32)
    auth.append("user.s%d.password = pbkdf2-sha256$100000$%s$%s" % (i, salt.hex(), h.hex()))
    users.append("s%d %s" % (i, pw))
ini = re.sub(r"(?ms)^\[auth\].*?(?=^\[)", "\n".join(auth) + "\n\n", shipped)
open(os.path.join(work, "many.ini"), "w").write(ini)
open(os.path.join(work, "many-users"), "w").write("\n".join(users) + "\n")
PY
}

CHATD_PID=
start_chatd() {   # INI
    HTTP_PORT=$(free_port)
    rm -f "$WORK"/chat.db*
    (cd "$ROOT" && CHATD_LISTEN=127.0.0.1:$HTTP_PORT CHATD_STOMP_LISTEN=127.0.0.1:$(free_port) CHATD_DB=$WORK/chat.db \
        CHATD_PLUGIN_DIR=$PLUGIN_DIR exec "$CHATD" -c "$1") > "$WORK/chatd.log" 2>&1 &
    CHATD_PID=$!
    PIDS+=("$CHATD_PID")
    wait_healthy "$HTTP_PORT"
}
stop_chatd() {
    kill "$CHATD_PID" 2>/dev/null || true
    wait "$CHATD_PID" 2>/dev/null || true
}

summary() {
    jq -r '[.label, "\(.ready)/\(.sessions)", .failed, (.retries // 0), .error_frames,
            (.setup_p50_ms | floor), (.setup_p99_ms | floor), (.setups_per_s | floor)] | @tsv' >&2
}

[[ " $AUTHS " == *" jwt "* ]] && jwt_setup
[[ " $AUTHS " == *" static-many "* ]] && many_setup
printf 'label\tback\tfailed\tretries\tERRORs\tp50 ms\tp99 ms\tset-ups/s\n' >&2
for auth in $AUTHS; do
    case $auth in
        static) ini=$ROOT/etc/chat.ini users=$WORK/static-users ;;
        static-many) ini=$WORK/many.ini users=$WORK/many-users ;;
        jwt) ini=$WORK/jwt.ini users=$WORK/jwt-users ;;
        *) die "unknown auth '$auth' (static, static-many, jwt)" ;;
    esac
    for sc in $SCENARIOS; do
        start_chatd "$ini"
        label="$auth $sc${LABEL:+ $LABEL}"
        log "$label: $SESSIONS sessions"
        "$BENCH" -u "ws://127.0.0.1:$HTTP_PORT/ws" -n "$SESSIONS" -s "$sc" --users "$users" \
            --source-addrs "$SOURCE_ADDRS" --concurrency "$CONCURRENCY" --server-pid "$CHATD_PID" \
            -v --json --label "$label" 2> "$WORK/bench.err" | tee -a "$OUT" | summary \
            || { cat "$WORK/bench.err" >&2; die "chat-bench failed"; }
        # Every ERROR of the run (-v), counted by message.
        grep -h ": ERROR " "$WORK/bench.err" | sed 's/^.*: ERROR //' | sort | uniq -c >&2 || true
        stop_chatd
    done
done
