#!/usr/bin/env python3
"""Checks that core/'s folders include each other only downwards.

Each folder of core/ is one layer. A file may include headers of its own
folder, of the layers below it (LAYERS lists what each may use) and the
small utilities in core/ itself. The composition root (main.c, server.c)
may include anything. Every include that breaks the rule must be listed in
KNOWN with the reason it is still there; the check fails on any other, and
on a KNOWN entry that is gone (so the list only shrinks).

    check_layers.py [core-dir]
"""
import os
import re
import sys

# layer -> the layers its files may include (besides itself and the root).
LAYERS = {
    "plugins": set(),
    "net": set(),
    "rooms": {"plugins"},
    "wire": {"rooms"},
    "stomp": {"net", "rooms", "wire", "plugins"},
    "http": {"net", "rooms", "wire", "plugins"},
}
# The composition root: wires every layer together.
COMPOSITION = {"main.c", "server.c", "server_reload.c", "server_run.h"}
# Headers in core/ that describe the whole server's state and settings; any
# layer may still read them (to be replaced by what each module needs).
CONTEXT = {"server.h", "settings.h"}

# (file, included header) -> why it is still there.
KNOWN = {
    ("settings.h", "stomp/acl.h"): "the [stomp] allow rules are parsed with the settings",
    ("settings.h", "net/stomp_frame.h"): "the frame limits are parsed with the settings",
    ("server.h", "plugins/broker_port.h"): "the server holds the broker port",
    ("server.h", "net/xq.h"): "the server holds the queues to the gateway",
}

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
SYSTEM_INCLUDE = re.compile(r'^\s*#\s*include\s+<([^>]+)>', re.M)

# The libraries of a wire format or a transport, which the rooms domain
# does not use: it reads no JSON, speaks no HTTP and no STOMP.
NOT_IN_DOMAIN = {"jansson.h", "libwebsockets.h"}
# (file, library header) -> why the domain still includes it.
KNOWN_LIBS = {
    ("rooms/presence.c", "jansson.h"): "presence keeps its state and its broker news as JSON arrays",
}


def layer_of(rel):
    parts = rel.split("/")
    return parts[0] if len(parts) > 1 else None


def main():
    core = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "..", "core")
    core = os.path.normpath(core)
    bad, seen = [], set()
    for dirpath, _, files in os.walk(core):
        for name in sorted(files):
            if not name.endswith((".c", ".h")):
                continue
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, core).replace(os.sep, "/")
            if rel in COMPOSITION:
                continue
            mine = layer_of(rel)
            with open(path, encoding="utf-8") as f:
                text = f.read()
            for lib in SYSTEM_INCLUDE.findall(text):
                if mine != "rooms" or lib not in NOT_IN_DOMAIN:
                    continue
                if (rel, lib) in KNOWN_LIBS:
                    seen.add((rel, lib))
                else:
                    bad.append(f"{rel}: the rooms domain includes <{lib}>, a wire format's or a transport's")
            for inc in INCLUDE.findall(text):
                if not os.path.exists(os.path.join(core, inc)):
                    if "/" not in inc and os.path.exists(os.path.join(dirpath, inc)) and mine:
                        bad.append(f"{rel}: includes \"{inc}\"; name it from core/ (\"{mine}/{inc}\")")
                    continue
                theirs = layer_of(inc)
                if theirs is None:
                    if inc in COMPOSITION:
                        bad.append(f"{rel}: includes the composition root {inc}")
                    elif mine is None and inc not in CONTEXT and rel not in CONTEXT:
                        pass  # utilities use each other
                    if (rel, inc) in KNOWN:
                        seen.add((rel, inc))
                    continue
                if theirs == mine:
                    continue
                if mine is not None and theirs in LAYERS[mine]:
                    continue
                if (rel, inc) in KNOWN:
                    seen.add((rel, inc))
                    continue
                where = f"layer {mine}" if mine else "a utility of core/"
                bad.append(f"{rel}: {where} includes {inc} (layer {theirs}), which it may not use")
    for key in sorted(set(KNOWN) - seen):
        bad.append(f"{key[0]} no longer includes {key[1]}: remove it from KNOWN in {__file__}")
    for key in sorted(set(KNOWN_LIBS) - seen):
        bad.append(f"{key[0]} no longer includes <{key[1]}>: remove it from KNOWN_LIBS in {__file__}")
    for line in bad:
        print(line)
    if bad:
        return 1
    print(f"layers: {len(LAYERS)} folders, {len(KNOWN) + len(KNOWN_LIBS)} known exceptions, no other include"
          " against the direction")
    return 0


if __name__ == "__main__":
    sys.exit(main())
