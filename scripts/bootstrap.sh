#!/usr/bin/env bash
# Install what chatd needs from Debian's packages, and nothing when all is
# there. `--test` adds what the test suites need (servers, clients, browser);
# `--bench` that and the benchmark's HTTP load generator.
set -euo pipefail

build_pkgs=(build-essential cmake pkg-config libevent-dev libwebsockets-dev libwebsockets-evlib-ev libev-dev libjansson-dev
  libhiredis-dev libpq-dev libmariadb-dev librabbitmq-dev libjwt-dev libsqlite3-dev libcmocka-dev libssl-dev
  librdkafka-dev)
# The fonts: the browser tests' pages (and their screenshots in docs/) show
# Korean and emoji.
test_pkgs=(clang valgrind redis-server postgresql mariadb-server mariadb-client rabbitmq-server python3-stomp
  python3-websocket python3-pika python3-yaml python3-jsonschema chromium fonts-nanum fonts-noto-color-emoji)

want=("${build_pkgs[@]}")
# The web desk's STOMP client comes from npm. A nodesource nodejs bundles
# npm; Debian's npm would conflict with it, so only what is missing.
command -v node >/dev/null || want+=(nodejs)
command -v npm >/dev/null || want+=(npm)
if [[ "${1:-}" == "--test" || "${1:-}" == "--bench" ]]; then
  want+=("${test_pkgs[@]}")
fi
if [[ "${1:-}" == "--bench" ]]; then
  want+=(wrk)
fi

missing=()
for p in "${want[@]}"; do
  if [[ "$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null)" != "install ok installed" ]]; then
    missing+=("$p")
  fi
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "bootstrap: installing ${missing[*]}"
sudo=()
[[ $(id -u) -eq 0 ]] || sudo=(sudo)

# Tests start their own servers on loopback; keep the packages' services off.
policy=/usr/sbin/policy-rc.d
made_policy=0
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy" >/dev/null
  "${sudo[@]}" chmod +x "$policy"
  made_policy=1
fi
cleanup() { [[ $made_policy -eq 1 ]] && "${sudo[@]}" rm -f "$policy"; return 0; }
trap cleanup EXIT

export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
