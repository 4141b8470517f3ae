#!/usr/bin/env python3
"""Attachments' throughput on loopback: uploads (POST /api/rooms/{room}/files)
and downloads (GET .../files/{id}) of SIZE-byte files through one chatd with
files-local in a temporary directory, by 1 and by CLIENTS concurrent HTTP
clients (http.client, one keep-alive connection each), with chatd's peak
resident memory (VmRSS, sampled every 10 ms) during each phase. Prints the
table bench/RESULTS.md keeps ("Attachments").

    bench/files_bench.py CHATD_BIN PLUGIN_DIR [SIZE_MIB=8] [FILES=24] [CLIENTS=4]

With FILES_BENCH_CONNINFO set, files-postgres on that database instead
(tests/servers/pg_run.sh sets CHATD_PG_CONNINFO for a throwaway server).
"""
import base64
import concurrent.futures
import hashlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "integration"))
from peak_rss import PeakRss  # noqa: E402


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main():
    chatd, plugins = sys.argv[1], sys.argv[2]
    size = int(sys.argv[3] if len(sys.argv) > 3 else 8) * 1024 * 1024
    files = int(sys.argv[4]) if len(sys.argv) > 4 else 24
    clients = int(sys.argv[5]) if len(sys.argv) > 5 else 4
    d = tempfile.mkdtemp(prefix="chatd-files-bench-")
    port = free_port()
    pw = subprocess.run([chatd, "hash-password", "--iterations", "1000"], input=b"bench-pw",
                        capture_output=True, check=True).stdout.decode().strip()
    conninfo = os.environ.get("FILES_BENCH_CONNINFO")
    files_keys = f"plugin = postgres\nconninfo = {conninfo}" if conninfo else f"plugin = local\ndir = {d}/files"
    with open(os.path.join(d, "chat.ini"), "w") as f:
        f.write(f"""[server]
listen = 127.0.0.1:{port}
plugin_dir = {plugins}
log_level = warn
[auth]
plugin = static
user.bench.password = {pw}
user.bench.roles = user
[storage]
plugin = memory
[broker]
plugin = simple
[files]
{files_keys}
max_size = {size}
quota_per_user = 0
""")
    proc = subprocess.Popen([chatd, "-c", os.path.join(d, "chat.ini")], stdout=subprocess.DEVNULL)
    auth = "Basic " + base64.b64encode(b"bench:bench-pw").decode()
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.05)
        conn = http.client.HTTPConnection("127.0.0.1", port)
        conn.request("POST", "/api/rooms", json.dumps({"kind": "group", "title": "bench", "members": []}),
                     {"Authorization": auth, "Content-Type": "application/json"})
        room = json.loads(conn.getresponse().read())["id"]
        data = (hashlib.sha256(b"x").hexdigest().encode() + b"\n") * (size // 65)
        data += b"\n" * (size - len(data))

        def upload(n):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            ids = []
            for _ in range(n):
                c.request("POST", f"/api/rooms/{room}/files?name=bench.txt", data,
                          {"Authorization": auth, "Content-Type": "text/plain"})
                r = c.getresponse()
                body = r.read()
                assert r.status == 201, body
                ids.append(json.loads(body)["id"])
            return ids

        def download(ids):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for fid in ids:
                c.request("GET", f"/api/rooms/{room}/files/{fid}", headers={"Authorization": auth})
                r = c.getresponse()
                body = r.read()
                assert r.status == 200 and len(body) == size
        rows = []
        for k in (1, clients):
            per = files // k
            t = time.perf_counter()
            with PeakRss(proc.pid, 0.01) as up_rss, concurrent.futures.ThreadPoolExecutor(k) as ex:
                groups = list(ex.map(upload, [per] * k))
            up = per * k * size / (time.perf_counter() - t) / 1e6
            t = time.perf_counter()
            with PeakRss(proc.pid, 0.01) as down_rss, concurrent.futures.ThreadPoolExecutor(k) as ex:
                list(ex.map(download, groups))
            down = per * k * size / (time.perf_counter() - t) / 1e6
            rows.append((k, per * k, up, down, up_rss.peak / 2**20, down_rss.peak / 2**20))
        print(f"| clients | files of {size // (1024 * 1024)} MiB | upload MB/s | download MB/s "
              "| chatd peak RSS uploading (MiB) | downloading (MiB) |")
        print("|---|---|---|---|---|---|")
        for k, n, up, down, up_rss, down_rss in rows:
            print(f"| {k} | {n} | {up:.0f} | {down:.0f} | {up_rss:.0f} | {down_rss:.0f} |")
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
