#!/bin/sh
# The SDK as a third party gets it: install chatd to a temporary prefix,
# build every example plugin from a copy of its folder with cc and the
# installed chatd.pc alone (no -I into this tree), and load each one into
# the installed chatd.
#
#   out_of_tree.sh BUILD_DIR STORAGE_CONFORMANCE [PYTHON]
#
# STORAGE_CONFORMANCE is tests/storage's binary (it is not installed);
# PYTHON runs test_examples.py against the out-of-tree builds.
set -eu

build=$(cd "$1" && pwd)
conformance=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
python=${3:-/usr/bin/python3}
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)

fail() {
    echo "out_of_tree: $*" >&2
    exit 1
}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/chatd-sdk.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM

cmake --install "$build" --prefix "$tmp" >"$tmp/install.log" || {
    cat "$tmp/install.log" >&2
    fail "cmake --install failed"
}
pc=$(find "$tmp" -name chatd.pc)
[ -n "$pc" ] || fail "no chatd.pc installed under $tmp"
PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
export PKG_CONFIG_PATH

# The include flags must lead into the install, never back into the tree.
cflags=$(pkg-config --cflags chatd)
for flag in $cflags; do
    case $flag in
    -I*)
        dir=$(cd "${flag#-I}" && pwd -P) || fail "pkg-config --cflags chatd: no directory ${flag#-I}"
        case $dir in
        "$(cd "$tmp" && pwd -P)"/*) ;;
        *) fail "pkg-config --cflags chatd leads outside the install: $flag" ;;
        esac
        ;;
    esac
done
[ "$(cd "$(pkg-config --variable=includedir chatd)" && pwd -P)" = "$(cd "$tmp/include" && pwd -P)" ] ||
    fail "chatd.pc includedir is not $tmp/include"
for h in plugin.h host.h; do
    [ -f "$tmp/include/chatd/$h" ] || fail "chatd/$h not installed"
done

chatd=$tmp/bin/chatd
shipped=$(dirname "$(find "$tmp" -name storage_memory.so)")
[ -x "$chatd" ] || fail "chatd not installed"
[ -d "$shipped" ] || fail "the shipped plugins not installed"

# What each example links besides the SDK (pkg-config modules, then other
# flags). An example folder missing here fails the test: add it.
libs_of() {
    case $1 in
    notify-jsonl | auth-csv) echo "|" ;;
    storage-files) echo "jansson|-pthread" ;;
    broker-unixdgram) echo "libevent_core|" ;;
    *) return 1 ;;
    esac
}

mkdir -p "$tmp/plugins" "$tmp/src" "$tmp/run"
for dir in "$src"/examples/plugins/*/; do
    example=$(basename "$dir")
    spec=$(libs_of "$example") || fail "examples/plugins/$example: no entry in libs_of"
    modules=${spec%%|*}
    extra=${spec#*|}
    cp -r "$dir" "$tmp/src/$example"
    kind=${example%%-*}
    name=${example#*-}
    out=$tmp/plugins/${kind}_$(echo "$name" | tr - _).so
    # -z defs: every symbol resolved at link time, so the libraries listed
    # here (and in the example's README) are complete.
    # shellcheck disable=SC2046,SC2086
    (cd "$tmp/src/$example" &&
        cc -std=c17 -Wall -Wextra -Werror -fPIC -shared -Wl,-z,defs \
            $(pkg-config --cflags chatd $modules) ./*.c -o "$out" \
            $([ -z "$modules" ] || pkg-config --libs $modules) $extra) ||
        fail "$example does not build out of tree"
    echo "built $example -> $out"
done

# A config whose [SECTION] is the example (by name, from plugin_dir) and
# whose other sections are shipped plugins; extra keys follow.
config() { # FILE SECTION NAME [key=value...]
    file=$1 section=$2 plugin=$3
    shift 3
    {
        printf '[server]\nlisten = 127.0.0.1:1\nstomp_listen = 127.0.0.1:2\nplugin_dir = %s\n\n' "$tmp/plugins"
        for s in auth storage broker; do
            printf '[%s]\n' "$s"
            if [ "$s" = "$section" ]; then
                printf 'plugin = %s\n' "$plugin"
                for kv in "$@"; do
                    printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
                done
            else
                case $s in
                auth) printf 'plugin = %s/auth_static.so\n' "$shipped" ;;
                storage) printf 'plugin = %s/storage_memory.so\n' "$shipped" ;;
                broker) printf 'plugin = %s/broker_simple.so\n' "$shipped" ;;
                esac
            fi
            printf '\n'
        done
        case $section in notify.*)
            printf '[%s]\nplugin = %s\n' "$section" "$plugin"
            for kv in "$@"; do
                printf '%s = %s\n' "${kv%%=*}" "${kv#*=}"
            done
            ;;
        esac
    } >"$file"
}

# Loads: --check-config succeeds. And it really ran the plugin's init: the
# same config with a key the plugin does not know is refused.
check_loads() { # SECTION NAME [key=value...]
    ini=$tmp/run/$2.ini
    config "$ini" "$@"
    "$chatd" --check-config -c "$ini" >"$tmp/run/out" 2>&1 || {
        cat "$tmp/run/out" >&2
        fail "[$1] $2 does not load"
    }
    config "$ini" "$@" colour=red
    if "$chatd" --check-config -c "$ini" >"$tmp/run/out" 2>&1; then
        fail "[$1] $2 accepted an unknown key: was it loaded at all?"
    fi
    grep -qF "$ini: [$1] colour: unknown key" "$tmp/run/out" || {
        cat "$tmp/run/out" >&2
        fail "[$1] $2: unexpected refusal"
    }
    echo "loads: [$1] plugin = $2"
}

printf 'ann,ann-pw,user\nbea,bea-pw,user|agent\n' >"$tmp/run/users.csv"
check_loads auth csv "path=$tmp/run/users.csv"
check_loads storage files "path=$tmp/run/chat.log"
check_loads broker unixdgram "dir=$tmp/run/broker" name=check
check_loads notify.file jsonl "path=$tmp/run/notifications.jsonl"

# storage-files keeps the whole storage contract.
"$conformance" "$tmp/plugins/storage_files.so" "path=$tmp/run/conformance.log" ||
    fail "storage_files.so (out of tree) fails the storage conformance suite"

# And works in a running chatd, built like this.
cd "$here"
CHATD_BIN=$chatd CHATD_PLUGIN_DIR=$shipped CHATD_EXAMPLES_DIR=$tmp/plugins CHATD_SOURCE_DIR=$src \
    CHATD_STORAGE_CONFORMANCE=$conformance "$python" -m unittest test_examples || fail "test_examples.py fails with the out-of-tree builds"
echo "out_of_tree: every example builds and loads against the installed SDK"

# Last, so that everything above is known either way: the .pc version is
# the SDK's ABI version (docs/plugin-guide.md), which a third party checks
# with `pkg-config --atleast-version`.
major=$(sed -n 's/^#define CHATD_ABI_MAJOR \([0-9]*\)$/\1/p' "$tmp/include/chatd/host.h")
minor=$(sed -n 's/^#define CHATD_ABI_MINOR \([0-9]*\)$/\1/p' "$tmp/include/chatd/host.h")
[ "$(pkg-config --modversion chatd)" = "$major.$minor" ] ||
    fail "chatd.pc says version $(pkg-config --modversion chatd), the headers $major.$minor"
