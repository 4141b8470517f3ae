"""REST and STOMP helpers for the rooms scenarios."""
import base64
import json
import urllib.error
import urllib.request

from chatd_harness import password_of
from raw_stomp import RawStomp


class Api:
    def __init__(self, port, user):
        self.base = "http://127.0.0.1:%d" % port
        token = base64.b64encode(("%s:%s" % (user, password_of(user))).encode()).decode()
        self.auth = "Basic " + token
        self.user = user

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Authorization": self.auth, "Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                raw = r.read()
                return r.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as e:
            raw = e.read()
            return e.code, json.loads(raw) if raw else None

    def get(self, path):
        return self.call("GET", path)

    def post(self, path, body=None):
        return self.call("POST", path, body if body is not None else {})

    def delete(self, path):
        return self.call("DELETE", path)

    def patch(self, path, body):
        return self.call("PATCH", path, body)


def stomp(port, user):
    c = RawStomp(port)
    c.connect(user)
    return c


def subscribe(c, dest, sid="r", **headers):
    h = {"id": sid, "destination": dest, "receipt": "sub-" + sid}
    h.update(headers)
    c.send("SUBSCRIBE", h)


def send_message(c, room, text, receipt=None, client_id=None):
    h = {"destination": "/app/rooms/%s/send" % room}
    if receipt:
        h["receipt"] = receipt
    if client_id:
        h["client-id"] = client_id
    c.send("SEND", h, text)


def history(api, rid):
    """Every message of a room, oldest first, paged back with `before`."""
    stored, page = [], api.get("/api/rooms/%s/messages?limit=100" % rid)[1]
    stored += page["messages"]
    while "next_before" in page:
        page = api.get("/api/rooms/%s/messages?limit=100&before=%d" % (rid, page["next_before"]))[1]
        stored += page["messages"]
    stored.reverse()
    return stored


def check_receipted(test, stored, receipted):
    """stored (oldest first) is gap-free, holds each client-id once, and
    every user's receipted client-ids in send order."""
    test.assertEqual([m["seq"] for m in stored], list(range(1, len(stored) + 1)))
    ids = [m["client_id"] for m in stored]
    test.assertEqual(len(ids), len(set(ids)))
    for user, cids in receipted.items():
        mine = [c for c in ids if c.startswith(user + "-")]
        test.assertEqual(mine[:len(cids)], cids)


def send_until_refused(port, rid, user, receipted, errors=None):
    """As `user`, send numbered messages to room rid with receipts and
    client-ids, one at a time, until something other than a RECEIPT comes
    (or the connection goes). receipted[user] lists the receipted client-ids
    in order; errors[user] gets the frame that ended it (None: closed)."""
    c = RawStomp(port)
    c.connect(user)
    done = receipted.setdefault(user, [])
    try:
        for i in range(1000000):
            cid = "%s-%d" % (user, i)
            try:
                send_message(c, rid, "%s says %d" % (user, i), receipt=cid, client_id=cid)
                f = c.read(timeout=10)
            except OSError:
                return
            if f is None or f.command != "RECEIPT":
                if errors is not None:
                    errors[user] = f
                return
            done.append(cid)
    finally:
        c.close()
