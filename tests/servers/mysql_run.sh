#!/bin/sh
# mysql_run.sh COMMAND...: run COMMAND with a throwaway MariaDB server on a
# free loopback port in a temp dir (its own socket, no /etc/mysql, durable
# commits: innodb_flush_log_at_trx_commit=1), with a database "chatd" and a
# user "chatd" (password "chatd") allowed only on it. CHATD_MYSQL_PORT and
# CHATD_MYSQL_SOCKET name it; CHATD_MYSQL_PID is the server's pid. The server
# and its dir are gone afterwards, whatever happened; the exit status is
# COMMAND's. Never touches the system service.
set -u
for b in mariadb-install-db mariadbd mariadb mariadb-admin; do
  command -v $b >/dev/null 2>&1 || { [ -x /usr/sbin/$b ] && continue; echo "mysql_run.sh: no $b (apt-get install mariadb-server)" >&2; exit 1; }
done
PATH=$PATH:/usr/sbin

dir=$(mktemp -d /tmp/chatd-mysql-XXXXXX) || exit 1
pid=
cleanup() {
  if [ -n "$pid" ]; then
    kill -TERM "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  fi
  rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# mariadbd will not run as root unless told: run it as the mysql user (or
# nobody), owning the temp dir.
user=root
if [ "$(id -u)" = 0 ]; then
  if id mysql >/dev/null 2>&1; then user=mysql; else user=nobody; fi
  chmod 711 "$dir"
  chown "$user" "$dir"
else
  user=$(id -un)
fi
# Its own tmpdir: the temporary tables of the bootstrap and the server are
# never in the shared /tmp, where another server or a cleaner could meet them.
mkdir "$dir/tmp" && chown "$user" "$dir/tmp" || exit 1

if ! mariadb-install-db --no-defaults --user="$user" --datadir="$dir/data" --tmpdir="$dir/tmp" \
    --auth-root-authentication-method=socket --skip-test-db >"$dir/install.log" 2>&1; then
  echo "mysql_run.sh: mariadb-install-db failed:" >&2
  cat "$dir/install.log" >&2
  exit 1
fi

free_port() {
  python3 "$(dirname "$0")/../integration/free_port.py"
}

attempt=0
while :; do
  attempt=$((attempt + 1))
  port=$(free_port) || exit 1
  mariadbd --no-defaults --user="$user" --datadir="$dir/data" --tmpdir="$dir/tmp" --port="$port" --bind-address=127.0.0.1 \
    --socket="$dir/sock" --pid-file="$dir/pid" --skip-log-bin --innodb-flush-log-at-trx-commit=1 \
    --max-connections=200 --skip-name-resolve >"$dir/server.log" 2>&1 &
  pid=$!
  ready=
  polls=0
  while [ $polls -lt 600 ]; do
    if mariadb-admin --no-defaults --socket="$dir/sock" -u root ping >/dev/null 2>&1; then
      ready=1
      break
    fi
    kill -0 "$pid" 2>/dev/null || break
    polls=$((polls + 1))
    sleep 0.05
  done
  [ -n "$ready" ] && break
  kill -TERM "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  pid=
  if [ $attempt -ge 3 ]; then
    echo "mysql_run.sh: mariadbd did not start:" >&2
    cat "$dir/server.log" >&2
    exit 1
  fi
done

if ! mariadb --no-defaults --socket="$dir/sock" -u root -e \
    "CREATE DATABASE chatd CHARACTER SET utf8mb4 COLLATE utf8mb4_bin;
     CREATE USER 'chatd'@'127.0.0.1' IDENTIFIED BY 'chatd'; CREATE USER 'chatd'@'localhost' IDENTIFIED BY 'chatd';
     GRANT ALL ON chatd.* TO 'chatd'@'127.0.0.1'; GRANT ALL ON chatd.* TO 'chatd'@'localhost';"; then
  cat "$dir/server.log" >&2
  exit 1
fi

CHATD_MYSQL_PORT=$port CHATD_MYSQL_SOCKET=$dir/sock CHATD_MYSQL_PID=$pid "$@"
