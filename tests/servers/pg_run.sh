#!/bin/sh
# pg_run.sh COMMAND...: run COMMAND with a throwaway PostgreSQL server on a
# free loopback port (fsync on) in a temp dir, database "chatd" created;
# CHATD_PG_CONNINFO names it. The server and its dir are gone afterwards,
# whatever happened; the exit status is COMMAND's.
#
# CHATD_PG_BIN: where initdb and postgres live (default: pg_config --bindir,
# then /usr/lib/postgresql/15/bin).
set -u
bin=${CHATD_PG_BIN:-$(pg_config --bindir 2>/dev/null || true)}
[ -x "$bin/initdb" ] || bin=/usr/lib/postgresql/15/bin
if [ ! -x "$bin/initdb" ] || [ ! -x "$bin/postgres" ]; then
  echo "pg_run.sh: no initdb/postgres in '$bin' (set CHATD_PG_BIN)" >&2
  exit 1
fi

dir=$(mktemp -d /tmp/chatd-pg-XXXXXX) || exit 1
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill -INT "$pid" 2>/dev/null   # fast shutdown: rolls back, no waiting for clients
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The server refuses to run as root: drop to an unprivileged user that owns
# the temp dir.
run_as=
if [ "$(id -u)" = 0 ]; then
  if id postgres >/dev/null 2>&1; then user=postgres; else user=nobody; fi
  group=$(id -gn "$user")
  chown "$user:$group" "$dir"
  run_as="setpriv --reuid=$user --regid=$group --clear-groups --"
fi

# The data is thrown away, so initdb need not sync; the server does fsync.
if ! $run_as "$bin/initdb" -D "$dir/data" -U chatd -A trust -E UTF8 --locale=C --no-sync \
    >"$dir/initdb.log" 2>&1; then
  echo "pg_run.sh: initdb failed:" >&2
  cat "$dir/initdb.log" >&2
  exit 1
fi

free_port() {
  python3 "$(dirname "$0")/../integration/free_port.py"
}

# A port found free may be taken before the server binds it: then try another.
attempt=0
while :; do
  attempt=$((attempt + 1))
  port=$(free_port) || exit 1
  $run_as "$bin/postgres" -D "$dir/data" -h 127.0.0.1 -p "$port" -k "$dir" \
    -c fsync=on -c synchronous_commit=on -c max_connections=50 >"$dir/server.log" 2>&1 &
  pid=$!
  ready=
  polls=0
  while [ $polls -lt 600 ]; do
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$port" -t 1; then
      ready=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    polls=$((polls + 1))
    sleep 0.05
  done
  [ -n "$ready" ] && break
  kill -INT "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
  if [ $attempt -ge 3 ]; then
    echo "pg_run.sh: postgres did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
done

if ! "$bin/createdb" -h 127.0.0.1 -p "$port" -U chatd chatd; then
  cat "$dir/server.log" >&2
  exit 1
fi

CHATD_PG_CONNINFO="host=127.0.0.1 port=$port dbname=chatd user=chatd" "$@"
