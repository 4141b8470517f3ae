#!/bin/sh
# redis_run.sh COMMAND...: run COMMAND with a throwaway redis-server on a free
# loopback port (AOF on, fsync always) in a temp dir; CHATD_REDIS_ADDRESS
# names it. The server and its dir are gone afterwards, whatever happened.
set -u
dir=$(mktemp -d /tmp/chatd-redis-XXXXXX)
port=$(python3 "$(dirname "$0")/../integration/free_port.py")
redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" --appendonly yes --appendfsync always \
  --save '' --daemonize no --logfile "$dir/redis.log" &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
tries=0
until redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; do
  tries=$((tries + 1))
  if [ $tries -gt 500 ] || ! kill -0 $pid 2>/dev/null; then
    echo "redis-server did not start:" >&2
    cat "$dir/redis.log" >&2
    exit 1
  fi
  sleep 0.02
done
CHATD_REDIS_ADDRESS=127.0.0.1:$port "$@"
