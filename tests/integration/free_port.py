"""A free TCP port on 127.0.0.1 for a test server, taken from below the
kernel's ephemeral range.

A port the kernel hands out for bind(0) lies in the ephemeral range, and the
client sockets of every test running at the same time draw their local
ports from that range too: one may take it between the pick and the
server's bind. Below the range only another server can, so a pick at random
makes that rare, and the harness tries another port when it happens.

Run as a script, it prints one port."""
import random
import socket

LOWEST = 10000


def ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# Ports this process has handed out: a test server takes several at once
# (HTTP, STOMP), before any is bound, so one pick must not repeat another.
_given = set()


def free_port():
    high = max(ephemeral_low(), LOWEST + 1000)
    while True:
        port = random.randrange(LOWEST, high)
        if port in _given:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            _given.add(port)
            return port


if __name__ == "__main__":
    print(free_port())
