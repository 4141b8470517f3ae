"""docs/openapi.yaml and docs/events.schema.json say what the server does:
the route table of core/http/rest.c and the yaml name the same operations,
every answer of a running chatd (sqlite storage, static users) has a status
its operation documents and a body its schema admits, and every event the
server publishes on its own destinations validates against the events'
schema by its destination and `event` header."""
import base64
import http.client
import json
import os
import re
import shutil
import tempfile
import unittest
import urllib.parse

import yaml
from jsonschema import Draft202012Validator, RefResolver

from chatd_harness import PLUGIN_DIR, SOURCE_DIR, Chatd, OneServer, hash_password, password_of, wait_for

DOCS = os.path.join(SOURCE_DIR, "docs")
TEXT = "안녕하세요 😀"
TITLE = "우리 팀 🎉"
METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def load_api():
    with open(os.path.join(DOCS, "openapi.yaml"), encoding="utf-8") as f:
        return yaml.safe_load(f)


def load_events():
    with open(os.path.join(DOCS, "events.schema.json"), encoding="utf-8") as f:
        return json.load(f)


def route_table():
    """(METHOD, pattern) of every entry of rest.c's api_routes table."""
    with open(os.path.join(SOURCE_DIR, "core", "http", "rest.c"), encoding="utf-8") as f:
        text = f.read()
    table = re.search(r"api_routes\[\]\s*=\s*\{(.*?)\n\};", text, re.S)
    assert table, "no api_routes table in core/http/rest.c"
    routes = re.findall(r'\{\s*"([^"]+)"\s*,\s*"([^"]+)"\s*,', table.group(1))
    assert routes, "no routes parsed from api_routes"
    return routes


def yaml_operations(api):
    """(METHOD, pattern with {} for each parameter) of every operation."""
    ops = set()
    for path, item in api["paths"].items():
        for method in item:
            if method in METHODS:
                ops.add((method.upper(), re.sub(r"\{[^}/]+\}", "{}", path)))
    return ops


def validator(root, schema):
    """A 2020-12 validator of `schema` whose "#/..." references resolve in root."""
    return Draft202012Validator(schema, resolver=RefResolver.from_schema(root))


def schema_errors(root, schema, instance):
    return ["%s at %s" % (e.message, "/".join(str(p) for p in e.absolute_path))
            for e in validator(root, schema).iter_errors(instance)]


def unescape_12(value):
    """A STOMP 1.2 header value as sent (the raw client leaves escapes)."""
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "c": ":", "\\": "\\"}[m.group(1)], value)


class Documents(unittest.TestCase):
    """The documents themselves, without a server."""

    def test_openapi_is_valid_3_1_with_2020_12_schemas(self):
        api = load_api()
        self.assertEqual(api["openapi"], "3.1.0")
        for name, schema in api["components"]["schemas"].items():
            with self.subTest(schema=name):
                Draft202012Validator.check_schema(schema)
        # Every reference points at something.
        def refs(node):
            if isinstance(node, dict):
                for k, v in node.items():
                    if k == "$ref":
                        yield v
                    else:
                        yield from refs(v)
            elif isinstance(node, list):
                for v in node:
                    yield from refs(v)
        for ref in set(refs(api)):
            target = api
            for part in ref[2:].split("/"):
                self.assertIn(part, target, "dangling $ref " + ref)
                target = target[part]
        for path, item in api["paths"].items():
            for method, op in item.items():
                if method in METHODS:
                    with self.subTest(op="%s %s" % (method, path)):
                        self.assertIn("operationId", op)
                        self.assertTrue(op["responses"])

    def test_every_route_of_rest_c_is_documented_and_no_other(self):
        table = set()
        for method, pattern in route_table():
            # "*": the route answers every method; the yaml describes GET.
            table.add(("GET" if method == "*" else method, pattern))
        self.assertEqual(yaml_operations(load_api()), table)

    def test_events_schema_is_valid_and_shares_room_and_message_with_openapi(self):
        events = load_events()
        Draft202012Validator.check_schema(events)
        self.assertEqual(events["$schema"], "https://json-schema.org/draft/2020-12/schema")
        api = load_api()["components"]["schemas"]
        for name in ("Room", "Message", "Reaction", "RoomId", "UserId", "Millis"):
            with self.subTest(schema=name):
                same = json.loads(json.dumps(api[name]).replace("#/components/schemas/", "#/$defs/"))
                self.assertEqual(events["$defs"][name], same)

    def test_validation_can_fail(self):
        """The schemas are strict enough to refuse what the server never sends."""
        api = load_api()
        room = {"$ref": "#/components/schemas/CallerRoom"}
        self.assertTrue(schema_errors(api, room, {"id": "r1", "kind": "support"}))
        self.assertTrue(schema_errors(api, {"$ref": "#/components/schemas/Error"}, {"error": "nope", "message": ""}))
        events = load_events()
        self.assertTrue(schema_errors(events, events, {"destination": "/topic/rooms/r1", "body": {},
                                                       "headers": {"event": "exploded", "room": "r1",
                                                                   "destination": "/topic/rooms/r1",
                                                                   "subscription": "s", "message-id": "1"}}))


class EventClient:
    """A raw STOMP client whose every MESSAGE is validated as it arrives;
    tests wait for events and receipts in any order."""

    def __init__(self, test, raw):
        self.test, self.c = test, raw
        self.events, self.receipts = [], set()

    def _read(self):
        f = self.c.read(timeout=10)
        self.test.assertIsNotNone(f, "no frame within 10 s")
        if f.command == "MESSAGE":
            self.events.append(self.test.check_event(f))
        elif f.command == "RECEIPT":
            self.receipts.add(f.headers["receipt-id"])
        else:
            self.test.fail("unexpected frame %r" % f)

    def send(self, destination, body="", **headers):
        headers["destination"] = destination
        self.c.send("SEND", headers, body)
        if "receipt" in headers:
            self.receipt(headers["receipt"])

    def subscribe(self, sub_id, destination, **headers):
        headers.update({"id": sub_id, "destination": destination, "receipt": "sub-" + sub_id})
        self.c.send("SUBSCRIBE", headers)
        self.receipt("sub-" + sub_id)

    def receipt(self, rid):
        while rid not in self.receipts:
            self._read()

    def event(self, sub_id, name, room=None, **body):
        """The first event (validated) of subscription sub_id named `name`,
        about room, whose body has the members in `body`."""
        while True:
            for i, e in enumerate(self.events):
                h = e["headers"]
                if h.get("subscription") == sub_id and h.get("event") == name and room in (None, h.get("room")) and \
                        all(isinstance(e["body"], dict) and e["body"].get(k) == v for k, v in body.items()):
                    return self.events.pop(i)
            self._read()


class LiveServer(OneServer):
    """Real requests and real subscriptions against one chatd, each checked
    against the documents. A subclass names its storage section."""

    @staticmethod
    def storage(data):
        return {"plugin": "sqlite", "path": os.path.join(data, "chat.db")}

    @classmethod
    def setUpClass(cls):
        cls.data = tempfile.mkdtemp(prefix="chatd-openapi-")
        storage = cls.storage(cls.data)
        visitors = {"enabled": "on", "secret": "openapi-test-visitor-secret-0123456789"}
        files = {"plugin": "local", "dir": os.path.join(cls.data, "files")}

        def edit(s):
            s.update({"storage": storage, "visitors": visitors, "files": files,
                      "support": {"reopen_window": "1h", "first_response_target": "300ms"}})
            s["auth"]["user.sup1.password"] = hash_password(password_of("sup1"))
            s["auth"]["user.sup1.roles"] = "supervisor"
        cls.edit = staticmethod(edit)
        super().setUpClass()
        cls.api = load_api()
        cls.events = load_events()
        cls.exercised = set()  # (METHOD, template) answered and checked
        cls.seen = set()       # (channel, event) received and checked

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.data, ignore_errors=True)

    def setUp(self):
        wait_for(lambda: self.http("GET", "/healthz")[0] == 200, what="storage and broker ready")

    # ---- REST ------------------------------------------------------------

    def http(self, method, path, body=None, raw=None, user=None, authorization=None, ctype=None, headers=None):
        """One request: (status, content type, body bytes)."""
        headers = dict(headers or {})
        if user:
            token = base64.b64encode(("%s:%s" % (user, password_of(user))).encode()).decode()
            headers["Authorization"] = "Basic " + token
        if authorization:
            headers["Authorization"] = authorization
        data = raw if raw is not None else json.dumps(body).encode() if body is not None else None
        if data is not None:
            headers["Content-Type"] = ctype or "application/json"
        conn = http.client.HTTPConnection("127.0.0.1", self.server.http_port, timeout=10)
        try:
            conn.request(method, path, body=data, headers=headers)
            r = conn.getresponse()
            return r.status, (r.getheader("Content-Type") or "").split(";")[0].strip(), r.read()
        finally:
            conn.close()

    def call(self, who, method, template, body=None, raw=None, query=None, expect=None, authorization=None,
             ctype=None, headers=None, **params):
        """A documented operation by user `who` (None: no credentials): the
        path from `template` and params (percent-encoded), checked against
        the yaml. Returns (status, JSON or text)."""
        path = template
        for name, value in params.items():
            path = path.replace("{%s}" % name, urllib.parse.quote(value, safe=""))
        self.assertNotIn("{", path, "a parameter of %s is missing" % template)
        if query:
            path += "?" + urllib.parse.urlencode(query)
        status, ctype, payload = self.http(method, path, body, raw, who, authorization, ctype, headers)
        op = self.api["paths"][template][method.lower()]
        what = "%s %s -> %d %s" % (method, path, status, payload[:300])
        self.assertIn(str(status), op["responses"], "status not documented: " + what)
        response = op["responses"][str(status)]
        if "$ref" in response:
            response = self.api["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
        if "content" not in response:  # 204: nothing to validate but its absence
            self.assertEqual(payload, b"", "a body where none is documented: " + what)
            self.exercised.add((method, template))
            return status, None
        self.assertIn(ctype, response["content"], "content type not documented: " + what)
        schema = response["content"][ctype]["schema"]
        doc = json.loads(payload) if ctype == "application/json" else payload.decode("utf-8")
        errors = schema_errors(self.api, schema, doc)
        self.assertEqual(errors, [], "body does not match the schema: " + what)
        if expect is not None:
            self.assertEqual(status, expect, what)
        if status < 300 and body is not None and "requestBody" in op:
            # What the server took is what the yaml says it takes.
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            self.assertEqual(schema_errors(self.api, schema, body), [], "request body not documented: " + what)
        self.exercised.add((method, template))
        return status, doc

    def undocumented(self, method, path, status, user="alice"):
        """A request outside the table: the answer is an Error all the same."""
        got, ctype, payload = self.http(method, path, {} if method in ("PUT", "POST") else None, user=user)
        self.assertEqual((got, ctype), (status, "application/json"), payload)
        self.assertEqual(schema_errors(self.api, {"$ref": "#/components/schemas/Error"}, json.loads(payload)), [])
        return json.loads(payload)

    def fresh_support(self, user):
        """A new support room of user (an open one is closed first)."""
        status, room = self.call(user, "POST", "/api/rooms", {"kind": "support"})
        if status == 200:
            self.call(user, "DELETE", "/api/rooms/{room}", expect=200, room=room["id"])
            status, room = self.call(user, "POST", "/api/rooms", {"kind": "support"})
        self.assertEqual(status, 201)
        return room["id"]

    # ---- STOMP events ----------------------------------------------------

    def channel_of(self, destination):
        for name in ("room-topic", "room-notes", "support-queue", "support-agents", "notifications", "presence"):
            pattern = self.events["$defs"][name]["properties"]["destination"]["pattern"]
            if re.search(pattern, destination):
                return name
        self.fail("an event on a destination the schema does not know: " + destination)

    def check_event(self, frame):
        """Validate one MESSAGE against docs/events.schema.json."""
        headers = {k: unescape_12(v) for k, v in frame.headers.items()}
        ctype = headers.get("content-type", "").split(";")[0].strip().lower()
        text = frame.body.decode("utf-8")
        event = {"destination": headers.get("destination", ""), "headers": headers,
                 "body": json.loads(text) if ctype == "application/json" else text}
        channel = self.channel_of(event["destination"])
        self.assertTrue(headers.get("event") in self.events["$defs"][channel]["$defs"],
                        "an event not in the schema of %s: %r" % (channel, frame))
        self.assertEqual(schema_errors(self.events, self.events, event), [], "event does not match: %r" % frame)
        self.seen.add((channel, headers["event"]))
        return event

    def subscriber(self, user, *subscriptions):
        """A raw STOMP 1.2 client of user, subscribed to (id, destination,
        extra headers) each, after their RECEIPTs."""
        c = EventClient(self, self.raw(user))
        for sub_id, dest, extra in subscriptions:
            c.subscribe(sub_id, dest, **extra)
        return c


class OpenApiLive(LiveServer):
    """Every operation and every event, with sqlite storage (SDK 1.2)."""

    def test_rest_operations(self):
        R = "/api/rooms/{room}"
        # Operations: health, metrics, credentials.
        self.call(None, "GET", "/healthz", expect=200)
        _, text = self.call(None, "GET", "/metrics", expect=200)
        self.assertIn("chatd_http_requests_total", text)
        # The description itself, as built into the server: this very file.
        _, served = self.call(None, "GET", "/api/docs", expect=200)
        with open(os.path.join(DOCS, "openapi.yaml"), encoding="utf-8") as f:
            self.assertEqual(served, f.read())
        self.assertEqual(yaml.safe_load(served)["paths"]["/api/docs"]["get"]["operationId"], "apiDocs")
        self.assertEqual(self.undocumented("POST", "/api/docs", 405)["error"], "method_not_allowed")
        self.assertEqual(self.call(None, "GET", "/api/rooms", expect=401)[1]["error"], "unauthorized")
        self.call(None, "GET", "/api/rooms", expect=401, authorization="Basic " +
                  base64.b64encode(b"alice:wrong").decode())
        self.call(None, "GET", "/api/rooms", expect=401, authorization="Bearer not-for-static-users")
        self.assertEqual(self.undocumented("GET", "/api/nothing-here", 404)["error"], "not_found")
        self.assertTrue(self.call("admin1", "POST", "/api/admin/reload", expect=200)[1]["reloaded"])
        self.assertEqual(self.call("alice", "POST", "/api/admin/reload", expect=403)[1]["error"], "forbidden")
        # auth-static revokes nothing (test_logout.py has the jwt side).
        self.assertEqual(self.call("alice", "POST", "/api/logout", expect=501)[1]["error"], "not_supported")
        self.assertEqual(self.undocumented("PUT", "/api/rooms", 405)["message"], "use GET, POST on /api/rooms")
        # Visitors: a new one, its token renewed, a token not of this server.
        _, visitor = self.call(None, "POST", "/api/visitors", expect=201)
        _, again = self.call(None, "POST", "/api/visitors", expect=200, authorization="Bearer " + visitor["token"])
        self.assertEqual(again["user"], visitor["user"])
        self.call(None, "POST", "/api/visitors", expect=401,
                  authorization="Bearer cv1.AAAAAAAAAAAAAAAAAAAAAA.1.%s" % ("A" * 43))
        self.assertEqual(self.call(None, "GET", "/api/rooms", authorization="Bearer " + visitor["token"],
                                   expect=200)[1]["rooms"], [])

        # Creating rooms, and bad bodies.
        sid = self.fresh_support("alice")
        self.assertEqual(self.call("alice", "POST", "/api/rooms", {"kind": "support"}, expect=200)[1]["id"], sid)
        # The room open already answers as it was opened, whatever topic is asked now.
        again = self.call("alice", "POST", "/api/rooms", {"kind": "support", "topic": "billing"}, expect=200)[1]
        self.assertEqual((again["id"], again["topic"]), (sid, None))
        self.assertEqual(self.call("alice", "POST", "/api/rooms", raw=b"{not json", expect=400)[1]["error"],
                         "bad_json")
        for bad in ({}, [], {"kind": "direct"}, {"kind": "direct", "with": "alice"}, {"kind": "group"},
                    {"kind": "group", "title": TITLE, "members": "bob"}, {"kind": "group", "title": "x" * 201},
                    {"kind": "support", "topic": "Billing"}, {"kind": "support", "topic": "결제"},
                    {"kind": "support", "topic": ""}, {"kind": "support", "topic": 7},
                    {"kind": "support", "topic": "x" * 33}):
            with self.subTest(body=bad):
                self.assertEqual(self.call("alice", "POST", "/api/rooms", bad, expect=400)[1]["error"],
                                 "bad_request")
        status, _, _ = self.http("POST", "/api/rooms", raw=b'{"kind":"support","pad":"' + b"x" * 70000 + b'"}',
                                 user="alice")
        self.assertEqual(status, 413)
        self.call("alice", "POST", "/api/rooms", raw=b'{"kind":"support","pad":"' + b"x" * 70000 + b'"}',
                  expect=413)
        st, direct = self.call("bob", "POST", "/api/rooms", {"kind": "direct", "with": "alice"})
        self.assertIn(st, (200, 201))
        self.assertEqual(self.call("alice", "POST", "/api/rooms", {"kind": "direct", "with": "bob"},
                                   expect=200)[1]["id"], direct["id"])
        gid = self.call("alice", "POST", "/api/rooms", {"kind": "group", "title": TITLE, "members": ["bob"]},
                        expect=201)[1]["id"]

        # Listing.
        mine = self.call("alice", "GET", "/api/rooms", expect=200)[1]["rooms"]
        self.assertTrue({sid, direct["id"], gid} <= {r["id"] for r in mine})
        self.assertEqual([r["id"] for r in self.call("alice", "GET", "/api/rooms", query={"scope": "mine"},
                                                     expect=200)[1]["rooms"]], [r["id"] for r in mine])
        queue = self.call("agent1", "GET", "/api/rooms", query={"scope": "unassigned"}, expect=200)[1]["rooms"]
        self.assertIn(sid, [r["id"] for r in queue])
        self.call("alice", "GET", "/api/rooms", query={"scope": "unassigned"}, expect=403)
        self.call("alice", "GET", "/api/rooms", query={"scope": "everything"}, expect=400)

        # One room: members see it, nobody else; unknown and malformed ids.
        self.assertEqual(self.call("alice", "GET", R, expect=200, room=gid)[1]["title"], TITLE)
        self.call("agent1", "GET", R, expect=200, room=sid)  # an agent: the unassigned queue
        self.call("dana", "GET", R, expect=404, room=gid)
        self.call("alice", "GET", R, expect=404, room="rdeadbeef")
        self.call("alice", "GET", R, expect=404, room="R!" + TEXT)

        # Messages over STOMP, then history pages.
        c = self.raw("alice")
        for i, (headers, body) in enumerate([({}, TEXT), ({"content-type": "application/json"},
                                                          json.dumps({"text": TEXT + " 2", "mood": "😀"})),
                                             ({"content-type": "text/plain"}, "{" + TEXT)]):
            c.send("SEND", dict(headers, destination="/app/rooms/%s/send" % gid, receipt="m%d" % i,
                                **{"client-id": "c%d" % i}), body)
            c.expect("RECEIPT")
        page = self.call("bob", "GET", R + "/messages", query={"limit": 2}, expect=200, room=gid)[1]
        self.assertEqual([m["seq"] for m in page["messages"]], [3, 2])
        self.assertEqual(page["next_before"], 2)
        older = self.call("bob", "GET", R + "/messages", query={"before": 2}, expect=200, room=gid)[1]
        self.assertEqual([m["body"] for m in older["messages"]], [TEXT])
        self.assertNotIn("next_before", older)
        after = self.call("bob", "GET", R + "/messages", query={"after": 1, "limit": 100}, expect=200, room=gid)[1]
        self.assertEqual(json.loads(after["messages"][0]["body"])["text"], TEXT + " 2")
        for bad in ({"limit": 0}, {"limit": 101}, {"before": 0}, {"before": 2, "after": 1}, {"after": "x"}):
            with self.subTest(query=bad):
                self.call("bob", "GET", R + "/messages", query=bad, expect=400, room=gid)
        self.call("dana", "GET", R + "/messages", expect=404, room=gid)

        # Edits and deletes.
        M = R + "/messages/{seq}"
        edited = self.call("alice", "PATCH", M, {"body": TEXT + " ✏️"}, expect=200, room=gid, seq="1")[1]
        self.assertEqual((edited["seq"], edited["rev"], edited["body"]), (1, 1, TEXT + " ✏️"))
        self.call("bob", "PATCH", M, {"body": "not mine"}, expect=403, room=gid, seq="1")
        self.call("alice", "PATCH", M, {"body": 5}, expect=400, room=gid, seq="1")
        self.call("alice", "PATCH", M, {"body": "x"}, expect=404, room=gid, seq="99")
        self.call("dana", "DELETE", M, expect=404, room=gid, seq="1")
        gone = self.call("alice", "DELETE", M, expect=200, room=gid, seq="3")[1]
        self.assertEqual((gone["deleted"], gone["body"], gone["rev"]), (True, "", 2))
        self.call("alice", "DELETE", M, expect=409, room=gid, seq="3")
        self.call("alice", "PATCH", M, {"body": "back"}, expect=409, room=gid, seq="3")

        # Reactions (SDK 2.5).
        X = M + "/reactions/{emoji}"
        mine = self.call("bob", "PUT", X, expect=200, room=gid, seq="1", emoji="👍🏽")[1]
        self.assertEqual(mine, {"room": gid, "seq": 1, "reactions": [{"emoji": "👍🏽", "count": 1, "me": True}]})
        self.call("bob", "PUT", X, expect=200, room=gid, seq="1", emoji="👍🏽")
        self.call("alice", "PUT", X, expect=200, room=gid, seq="1", emoji="👨‍👩‍👧")
        self.call("bob", "PUT", X, expect=400, room=gid, seq="1", emoji="hi")
        self.call("dana", "PUT", X, expect=404, room=gid, seq="1", emoji="👍🏽")
        self.call("bob", "PUT", X, expect=404, room=gid, seq="99", emoji="👍🏽")
        self.call("bob", "PUT", X, expect=409, room=gid, seq="3", emoji="👍🏽")
        page = self.call("alice", "GET", R + "/messages", query={"after": 0}, expect=200, room=gid)[1]["messages"]
        self.assertEqual(page[0]["reactions"], [{"emoji": "👍🏽", "count": 1, "me": False},
                                                {"emoji": "👨‍👩‍👧", "count": 1, "me": True}])
        self.assertEqual(page[2]["reactions"], [])
        left = self.call("bob", "DELETE", X, expect=200, room=gid, seq="1", emoji="👍🏽")[1]
        self.assertEqual(left["reactions"], [{"emoji": "👨‍👩‍👧", "count": 1, "me": False}])
        self.call("bob", "DELETE", X, expect=400, room=gid, seq="1", emoji="+1")
        # Search: one room, the caller's rooms, pages, refusals.
        S = R + "/search"
        found = self.call("bob", "GET", S, query={"q": "녕하"}, expect=200, room=gid)[1]
        # 2 is JSON that json.dumps wrote with \u escapes: found by its text all the same.
        self.assertEqual([m["seq"] for m in found["messages"]], [2, 1])
        self.assertIsNone(found["next_cursor"])
        self.assertEqual(self.call("bob", "GET", S, query={"q": "mood"}, expect=200, room=gid)[1]["messages"], [])
        first = self.call("alice", "GET", "/api/search", query={"q": "😀 ✏", "limit": 1}, expect=200)[1]
        self.assertEqual([(m["room"], m["seq"]) for m in first["messages"]], [(gid, 1)])
        rest = self.call("alice", "GET", "/api/search", query={"q": "😀 ✏", "cursor": first["next_cursor"]},
                         expect=200)[1]
        self.assertEqual(rest, {"messages": [], "next_cursor": None})
        self.call("dana", "GET", S, query={"q": "녕하"}, expect=404, room=gid)
        self.assertEqual(self.call("dana", "GET", "/api/search", query={"q": "녕하"}, expect=200)[1]["messages"], [])
        for bad in ({}, {"q": "녕"}, {"q": "  a "}, {"q": "x" * 101}, {"q": "ab", "limit": 0},
                    {"q": "ab", "cursor": "nonsense"}):
            with self.subTest(query=bad):
                self.call("bob", "GET", S, query=bad, expect=400, room=gid)
                self.call("bob", "GET", "/api/search", query=bad, expect=400)

        # Read marks.
        self.assertEqual(self.call("bob", "POST", R + "/read", {"seq": 99}, expect=200, room=gid)[1],
                         {"room": gid, "read_seq": 3})
        self.assertEqual(self.call("bob", "GET", R, expect=200, room=gid)[1]["unread"], 0)
        self.call("bob", "POST", R + "/read", {"seq": "x"}, expect=400, room=gid)
        self.call("dana", "POST", R + "/read", {"seq": 1}, expect=404, room=gid)

        # The support side: claim (one winner), complete.
        self.call("dana", "POST", R + "/claim", expect=404, room=sid)
        self.call("alice", "POST", R + "/claim", expect=403, room=sid)
        self.call("agent1", "POST", R + "/claim", expect=400, room=self.call(
            "agent1", "POST", "/api/rooms", {"kind": "group", "title": "agents"}, expect=201)[1]["id"])
        claimed = self.call("agent1", "POST", R + "/claim", expect=200, room=sid)[1]
        self.assertEqual((claimed["state"], claimed["agent"]), ("assigned", "agent1"))
        self.assertEqual(self.call("agent2", "POST", R + "/claim", expect=409, room=sid)[1]["error"], "conflict")
        self.call("agent1", "GET", "/api/rooms", query={"scope": "assigned"}, expect=200)
        self.call("agent2", "POST", R + "/complete", expect=404, room=sid)
        self.call("alice", "POST", R + "/complete", expect=403, room=sid)
        self.assertEqual(self.call("agent1", "POST", R + "/complete", expect=200, room=sid)[1]["state"], "completed")
        self.call("agent1", "POST", R + "/complete", expect=409, room=sid)
        # Its transcript: JSON, text, refusals.
        self.assertEqual(self.call("alice", "GET", R + "/transcript", expect=200, room=sid)[1]["room"]["state"],
                         "completed")
        self.assertIn("Customer: alice", self.call("agent1", "GET", R + "/transcript", query={"format": "text"},
                                                   expect=200, room=sid)[1])
        self.call("alice", "GET", R + "/transcript", query={"format": "csv"}, expect=400, room=sid)
        self.call("bob", "GET", R + "/transcript", expect=404, room=sid)
        # Its rating: by the customer once, refusals.
        self.call("alice", "POST", R + "/rating", {"rating": 6}, expect=400, room=sid)
        self.call("alice", "POST", R + "/rating", {"rating": 5, "comment": "x" * 1001}, expect=400, room=sid)
        self.call("agent1", "POST", R + "/rating", {"rating": 5}, expect=403, room=sid)
        self.call("bob", "POST", R + "/rating", {"rating": 5}, expect=404, room=sid)
        rated = self.call("alice", "POST", R + "/rating", {"rating": 5, "comment": TITLE}, expect=200, room=sid)[1]
        self.assertEqual((rated["rating"]["score"], rated["rating"]["comment"]), (5, TITLE))
        self.call("alice", "POST", R + "/rating", {"rating": 1}, expect=409, room=sid)
        self.call("alice", "POST", R + "/rating", {"rating": 1}, expect=400, room=gid)
        # Canned replies: an admin saves, agents read, refusals.
        C = "/api/support/canned/{shortcut}"
        saved = self.call("admin1", "PUT", C, {"title": "환불 안내", "body": TITLE}, expect=201, shortcut="/환불")[1]
        self.assertEqual((saved["shortcut"], saved["body"]), ("환불", TITLE))
        self.call("admin1", "PUT", C, {"title": "환불 안내 2", "body": TITLE}, expect=200, shortcut="환불")
        self.call("agent1", "PUT", C, {"title": "t", "body": "b"}, expect=403, shortcut="환불")
        self.call("admin1", "PUT", C, {"title": "t"}, expect=400, shortcut="환불")
        listed = self.call("agent1", "GET", "/api/support/canned", expect=200)[1]
        self.assertEqual([r["title"] for r in listed["replies"] if r["shortcut"] == "환불"], ["환불 안내 2"])
        self.call("alice", "GET", "/api/support/canned", expect=403)
        self.call("agent1", "GET", C, expect=200, shortcut="환불")
        self.call("agent1", "GET", C, expect=404, shortcut="없음")
        self.call("agent1", "GET", C, expect=400, shortcut="a b")
        self.call("admin1", "DELETE", C, expect=204, shortcut="환불")
        self.call("admin1", "DELETE", C, expect=404, shortcut="환불")
        self.assertEqual(self.call("agent1", "GET", R + "/transcript", expect=200, room=sid)[1]["room"]["rating"]
                         ["score"], 5)
        self.call("alice", "GET", R + "/transcript", expect=400, room=gid)

        # Transfers: to another agent (known and online), back to the queue.
        desk = [self.raw("agent1"), self.raw("agent2")]
        wait_for(lambda: {a["user"] for a in self.call("agent1", "GET", "/api/agents", expect=200)[1]["agents"]
                          if a["status"] == "online"} >= {"agent1", "agent2"}, what="agents online")
        tid = self.fresh_support("dana")
        T = R + "/transfer"
        self.call("agent1", "POST", T, {"to": "agent2"}, expect=409, room=tid)  # waiting: claim it
        self.call("agent1", "POST", R + "/claim", expect=200, room=tid)
        self.call("dana", "POST", T, {"to": "agent2"}, expect=403, room=tid)
        self.call("agent2", "POST", T, {"to": "agent2"}, expect=404, room=tid)
        self.call("agent1", "POST", T, {"to": "dana"}, expect=404, room=tid)
        self.call("agent1", "POST", T, {"to": "agent1"}, expect=400, room=tid)
        self.call("agent1", "POST", T, {"note": TEXT}, expect=400, room=tid)
        self.call("agent1", "POST", T, raw=b"[1]", expect=400, room=tid)
        moved = self.call("agent1", "POST", T, {"to": "agent2", "note": TEXT}, expect=200, room=tid)[1]
        self.assertEqual((moved["state"], moved["agent"]), ("assigned", "agent2"))
        queued = self.call("agent2", "POST", T, {"to": None}, expect=200, room=tid)[1]
        self.assertEqual((queued["state"], queued["agent"]), ("unassigned", None))
        self.call("agent1", "POST", R + "/claim", expect=200, room=tid)
        self.call("dana", "DELETE", R, expect=200, room=tid)
        self.call("agent1", "POST", T, {"to": "agent2"}, expect=409, room=tid)  # closed
        # A supervisor: the desk's overview, a room handed on, internal notes.
        nid = self.fresh_support("dana")
        self.call("agent1", "POST", R + "/claim", expect=200, room=nid)
        view = self.call("sup1", "GET", "/api/support/overview", expect=200)[1]
        self.assertIn(nid, [r["id"] for r in view["assigned"]])
        self.call("agent1", "GET", "/api/support/overview", expect=403)
        N = R + "/notes"
        note = self.call("agent1", "POST", N, {"body": TEXT, "client_id": "n-1"}, expect=201, room=nid)[1]
        self.assertEqual((note["kind"], note["seq"], note["room"]), ("note", 1, nid))
        self.call("agent1", "POST", N, {"body": TEXT, "client_id": "n-1"}, expect=200, room=nid)
        self.call("sup1", "POST", N, {"body": TITLE}, expect=201, room=nid)
        self.call("dana", "POST", N, {"body": TEXT}, expect=403, room=nid)
        self.call("agent2", "POST", N, {"body": TEXT}, expect=404, room=nid)
        self.call("agent1", "POST", N, {"body": ""}, expect=400, room=nid)
        self.call("agent1", "POST", N, {"body": TEXT}, expect=404, room=gid)
        page = self.call("sup1", "GET", N, query={"limit": 1}, expect=200, room=nid)[1]
        self.assertEqual(([n["body"] for n in page["notes"]], page["next_before"]), ([TITLE], 2))
        self.call("agent1", "GET", N, query={"before": 0}, expect=400, room=nid)
        self.call("dana", "GET", N, expect=403, room=nid)
        self.call("sup1", "POST", T, {"to": "agent2"}, expect=200, room=nid)
        self.call("sup1", "POST", T, {"to": None}, expect=200, room=nid)
        self.call("dana", "DELETE", R, expect=200, room=nid)
        for c in desk:
            c.close()

        # Groups: rename, members, roles.
        self.call("bob", "PATCH", R, {"title": "밥의 방"}, expect=403, room=gid)
        self.call("alice", "PATCH", R, {}, expect=400, room=gid)
        self.call("alice", "PATCH", R, {"title": "x" * 201}, expect=400, room=gid)
        self.call("alice", "PATCH", R, {"title": TITLE}, expect=403, room=direct["id"])
        self.call("dana", "PATCH", R, {"title": TITLE}, expect=404, room=gid)
        renamed = self.call("alice", "PATCH", R, {"title": "새 이름 😀"}, expect=200, room=gid)[1]
        self.assertEqual(renamed["title"], "새 이름 😀")
        self.assertEqual(self.call("alice", "POST", R + "/members", {"user": "agent2"}, expect=200, room=gid)[1],
                         {"room": gid, "added": "agent2"})
        self.call("alice", "POST", R + "/members", {"user": "agent2"}, expect=200, room=gid)
        self.call("alice", "POST", R + "/members", {"name": "agent2"}, expect=400, room=gid)
        self.call("bob", "POST", R + "/members", {"user": "dana"}, expect=403, room=gid)
        self.call("alice", "POST", R + "/members", {"user": "dana"}, expect=403, room=sid)
        M = R + "/members/{user}"
        self.call("alice", "PUT", M + "/role", {"role": "chief"}, expect=400, room=gid, user="bob")
        self.call("bob", "PUT", M + "/role", {"role": "owner"}, expect=403, room=gid, user="bob")
        self.call("alice", "PUT", M + "/role", {"role": "member"}, expect=409, room=gid, user="alice")
        self.call("alice", "PUT", M + "/role", {"role": "admin"}, expect=404, room=gid, user="카")
        room = self.call("alice", "PUT", M + "/role", {"role": "admin"}, expect=200, room=gid, user="bob")[1]
        self.assertEqual(room["admins"], ["bob"])
        self.call("bob", "DELETE", M, expect=403, room=gid, user="alice")
        self.call("alice", "DELETE", M, expect=404, room=gid, user="카")
        self.call("alice", "DELETE", M, expect=400, room=gid, user="u" * 256)
        self.assertEqual(self.call("bob", "DELETE", M, expect=200, room=gid, user="agent2")[1],
                         {"room": gid, "removed": "agent2"})

        # Attachments (files.md): upload, download, a range, bad ones.
        F = R + "/files"
        FF = F + "/{file}"
        text = "안녕 😀\n".encode()
        up = self.call("alice", "POST", F, raw=text, ctype="text/plain; charset=utf-8", query={"name": "../인사 😀.txt"},
                       expect=201, room=gid)[1]
        self.assertEqual((up["name"], up["content_type"], up["size"], up["room"]),
                         ("인사 😀.txt", "text/plain", len(text), gid))
        self.assertEqual(self.call("bob", "GET", FF, expect=200, room=gid, file=up["id"])[1], text.decode())
        self.assertEqual(self.call("bob", "GET", FF, headers={"Range": "bytes=0-5"}, expect=206, room=gid,
                                   file=up["id"])[1], "안녕")
        self.assertEqual(self.call("bob", "GET", FF, headers={"Range": "bytes=99-"}, expect=416, room=gid,
                                   file=up["id"])[1]["size"], len(text))
        self.call("agent2", "GET", FF, expect=404, room=gid, file=up["id"])
        self.call("bob", "GET", FF, expect=404, room=gid, file="nosuchfile")
        self.assertEqual(self.call("alice", "POST", F, raw=b"\x89PNG\r\n\x1a\n0000", ctype="text/plain", expect=415,
                                   room=gid)[1]["error"], "type_mismatch")
        self.call("agent2", "POST", F, raw=b"hi", ctype="text/plain", expect=404, room=gid)

        # Leaving, deleting, closing.
        self.call("alice", "DELETE", R, query={"for": "someone"}, expect=400, room=gid)
        self.call("alice", "DELETE", R, query={"for": "everyone"}, expect=400, room=sid)
        self.call("alice", "DELETE", R, expect=403, room=direct["id"])
        waiting = self.fresh_support("bob")
        self.call("agent2", "DELETE", R, expect=403, room=waiting)
        self.call("agent2", "POST", R + "/complete", expect=409, room=waiting)
        self.assertEqual(self.call("bob", "DELETE", R, expect=200, room=gid)[1], {"room": gid, "removed": "bob"})
        self.assertEqual(self.call("alice", "DELETE", R, query={"for": "everyone"}, expect=200, room=gid)[1],
                         {"room": gid, "result": "deleted"})
        self.call("alice", "GET", R, expect=404, room=gid)
        self.assertEqual(self.call("alice", "DELETE", R, expect=200, room=sid)[1],
                         {"room": sid, "result": "closed", "history": "kept"})
        self.assertEqual(self.call("alice", "GET", R, expect=200, room=sid)[1]["state"], "closed")
        self.call("alice", "DELETE", R, expect=409, room=sid)

        # Erasing a user.
        U = "/api/users/{user}"
        self.call("alice", "DELETE", U, expect=403, user="dana")
        self.call("admin1", "DELETE", U, expect=404, user="u" * 256)
        erased = self.call("admin1", "DELETE", U, expect=200, user="erased-카")[1]
        self.assertEqual(erased, {"user": "erased-카", "rooms_deleted": 0, "messages_erased": 0,
                                  "memberships_removed": 0})

        # The support desk's agents.
        self.call("alice", "GET", "/api/agents", expect=403)
        self.call("alice", "PUT", "/api/agents/me/status", {"status": "away"}, expect=403)
        self.call("agent1", "PUT", "/api/agents/me/status", {"status": "자리 비움"}, expect=400)
        self.call("agent1", "PUT", "/api/agents/me/status", {}, expect=400)
        session = self.raw("agent1")
        wait_for(lambda: {"user": "agent1", "status": "online", "open_chats": 0, "skills": []} in
                 self.call("admin1", "GET", "/api/agents", expect=200)[1]["agents"], what="agent1 online")
        self.assertEqual(self.call("agent1", "PUT", "/api/agents/me/status", {"status": "away"}, expect=200)[1],
                         {"user": "agent1", "status": "away"})
        self.call("agent2", "GET", "/api/agents", expect=200)
        self.assertEqual(self.call("agent1", "PUT", "/api/agents/me/status", {"status": "online"}, expect=200)[1],
                         {"user": "agent1", "status": "online"})
        session.close()

        # Presence: of the people one shares a room with, and one's own.
        self.call("admin1", "PUT", "/api/presence", {"status": "away"}, expect=409)  # not connected
        session = self.raw("bob")
        self.assertEqual(self.call("bob", "PUT", "/api/presence", {"status": "away"}, expect=200)[1],
                         {"user": "bob", "status": "away"})
        self.call("bob", "PUT", "/api/presence", {"status": "자리 비움"}, expect=400)
        shared = self.call("bob", "GET", "/api/presence", query={"users": "bob,nobody-이"}, expect=200)[1]
        self.assertEqual(shared["presence"], [{"user": "bob", "status": "away", "last_seen": None}])
        self.call("bob", "GET", "/api/presence", query={"users": ""}, expect=400)
        rid = self.call("bob", "POST", "/api/rooms", {"kind": "direct", "with": "alice"})[1]["id"]
        members = self.call("alice", "GET", R + "/presence", expect=200, room=rid)[1]["presence"]
        self.assertEqual({p["user"]: p["status"] for p in members}["bob"], "away")
        self.call("agent2", "GET", R + "/presence", expect=404, room=rid)
        session.close()

        documented = {(m.upper(), p) for p, item in self.api["paths"].items() for m in item if m in METHODS}
        self.assertEqual(documented - self.exercised, set(), "operations the test did not exercise")

    def waiting_customer_hears_place(self):
        from raw_stomp import RawStomp
        data = tempfile.mkdtemp(prefix="chatd-openapi-desk-")
        self.addCleanup(shutil.rmtree, data, True)

        def edit(s):
            s["storage"] = {"plugin": "sqlite", "path": os.path.join(data, "chat.db")}
            s["support"] = {"assign": "round_robin"}
        desk = Chatd(edit).start()
        self.addCleanup(desk.cleanup)
        self.addCleanup(desk.stop)
        raw = RawStomp(desk.stomp_port)
        self.addCleanup(raw.close)
        raw.connect("bob")
        bob = EventClient(self, raw)
        bob.subscribe("n", "/user/queue/notifications")
        wait_for(lambda: self.http_to(desk, "GET", "/healthz") == 200, what="the desk's chatd ready")
        token = base64.b64encode(("bob:%s" % password_of("bob")).encode()).decode()
        conn = http.client.HTTPConnection("127.0.0.1", desk.http_port, timeout=10)
        conn.request("POST", "/api/rooms", body=b'{"kind": "support"}',
                     headers={"Authorization": "Basic " + token, "Content-Type": "application/json"})
        r = conn.getresponse()
        room = json.loads(r.read())
        conn.close()
        self.assertEqual(r.status, 201, room)
        place = bob.event("n", "queue-position", room["id"], position=1)
        self.assertNotIn("estimated_wait_ms", place["body"])  # no assignment seen yet

    @staticmethod
    def http_to(server, method, path):
        conn = http.client.HTTPConnection("127.0.0.1", server.http_port, timeout=10)
        try:
            conn.request(method, path)
            return conn.getresponse().status
        finally:
            conn.close()

    def test_events(self):
        R = "/api/rooms/{room}"
        agent = self.subscriber("agent1", ("q", "/topic/support/queue", {}), ("n", "/user/queue/notifications", {}))
        bob = self.subscriber("bob", ("n", "/user/queue/notifications", {}))

        # A support room from opening to closing.
        sid = self.fresh_support("bob")
        self.assertEqual(agent.event("q", "opened", sid)["body"]["state"], "unassigned")
        bob.subscribe("s", "/topic/rooms/" + sid)
        send = "/app/rooms/%s/send" % sid
        sends = [({}, TEXT, TEXT),
                 ({"content-type": "application/json", "trace-id": "trace:1"},
                  json.dumps({"text": TEXT, "lang": "ko"}), {"text": TEXT, "lang": "ko"}),
                 # no content-type: taken for JSON, and said so (application/json)
                 ({"client-id": "j-1"}, json.dumps({"text": "😀"}), {"text": "😀"})]
        for i, (headers, body, seen_as) in enumerate(sends):
            bob.send(send, body, receipt="m%d" % i, **headers)
            e = bob.event("s", "message", sid)
            self.assertEqual((e["body"], e["headers"]["seq"], e["headers"]["sender"]), (seen_as, str(i + 1), "bob"))
        self.assertEqual(e["headers"]["client-id"], "j-1")
        bob.send("/app/rooms/%s/typing" % sid, receipt="t")
        bob.event("s", "typing", sid, user="bob")
        # bob's own messages moved his mark to 3: one below it leaves it
        bob.send("/app/rooms/%s/read" % sid, '{"seq": 1}', receipt="r")
        bob.event("s", "read", sid, user="bob", seq=3)
        bob.event("n", "unread", sid, read_seq=3, unread=0)
        self.call("bob", "POST", R + "/read", {"seq": 3}, expect=200, room=sid)
        bob.event("s", "read", sid, user="bob", seq=3)
        bob.event("n", "unread", sid, read_seq=3, unread=0)

        self.call("agent1", "POST", R + "/claim", expect=200, room=sid)
        bob.event("s", "assigned", sid, agent="agent1")
        agent.event("q", "claimed", sid, agent="agent1")
        bob.event("n", "assigned", sid, state="assigned")
        # An internal note: on the room's notes, for the desk.
        agent.subscribe("nt", "/topic/rooms/%s/notes" % sid)
        self.call("agent1", "POST", R + "/notes", {"body": TEXT}, expect=201, room=sid)
        self.assertEqual(agent.event("nt", "note", sid)["body"], TEXT)
        # agent1 is a member now, connected, not subscribed to the room.
        bob.send(send, TEXT, receipt="m9")
        note = agent.event("n", "message", sid, sender="bob")
        self.assertEqual((note["body"]["preview"], note["body"]["room_kind"]), (TEXT, "support"))
        # Handed to agent2 (online) with a note, and back: the note for the
        # agents only; a system message in the room.
        helper = self.subscriber("agent2", ("n", "/user/queue/notifications", {}))
        wait_for(lambda: "agent2" in {a["user"] for a in self.call("agent1", "GET", "/api/agents", expect=200)[1]
                                      ["agents"] if a["status"] == "online"}, what="agent2 online")
        self.call("agent1", "POST", R + "/transfer", {"to": "agent2", "note": TEXT}, expect=200, room=sid)
        bob.event("s", "transferred", sid, to="agent2", **{"from": "agent1"})
        # agent1's watch of the notes ends with it.
        ended = agent.event("nt", "transferred", sid, to="agent2")
        self.assertEqual(ended["headers"].get("subscription-ended"), "true")
        system = bob.event("s", "message", sid)
        while system["headers"].get("kind") != "system":
            system = bob.event("s", "message", sid)
        self.assertEqual(system["body"], "agent1 passed this chat on to agent2.")
        agent.event("q", "transferred", sid, to="agent2", note=TEXT)
        helper.event("n", "room-added", sid, agent="agent2")
        helper.event("n", "transferred", sid, note=TEXT)
        self.call("agent2", "POST", R + "/transfer", {"to": "agent1"}, expect=200, room=sid)
        bob.event("s", "transferred", sid, to="agent1")

        self.call("agent1", "POST", R + "/complete", expect=200, room=sid)
        bob.event("s", "completed", sid, agent="agent1")
        # The customer writes again ([support] reopen_window): back to agent1.
        bob.send(send, TEXT, receipt="m10")
        bob.event("s", "reopened", sid, agent="agent1", state="assigned")
        agent.event("q", "reopened", sid, state="assigned")
        self.call("agent1", "POST", R + "/complete", expect=200, room=sid)
        bob.event("s", "completed", sid, agent="agent1")
        # Rated by its customer: the agents hear of it with the rating.
        self.call("bob", "POST", R + "/rating", {"rating": 4, "comment": TEXT}, expect=200, room=sid)
        self.assertEqual(agent.event("q", "rated", sid)["body"]["rating"]["comment"], TEXT)
        self.call("bob", "DELETE", R, expect=200, room=sid)
        bob.event("s", "closed", sid, by="bob")
        agent.event("n", "closed", sid, state="closed")
        # Closed before anyone claimed it: it leaves the queue.
        unclaimed = self.fresh_support("bob")
        agent.event("q", "opened", unclaimed)
        # Left waiting past [support] first_response_target: flagged.
        agent.event("q", "sla-breached", unclaimed, customer="bob", target_ms=300)
        listed = self.call("agent1", "GET", "/api/rooms", query={"scope": "unassigned"}, expect=200)[1]["rooms"]
        self.assertEqual([r["sla_breached"] for r in listed if r["id"] == unclaimed], [True])
        self.call("bob", "DELETE", R, expect=200, room=unclaimed)
        agent.event("q", "closed", unclaimed, state="closed")

        # A group: replay, members, roles, title, deletion.
        alice = self.subscriber("alice")
        gid = self.call("alice", "POST", "/api/rooms", {"kind": "group", "title": TITLE, "members": ["bob", "dana"]},
                        expect=201)[1]["id"]
        bob.event("n", "room-added", gid, title=TITLE)
        alice.send("/app/rooms/%s/send" % gid, TEXT, receipt="g1")
        bob.subscribe("g", "/topic/rooms/" + gid, **{"since-seq": "0"})
        replayed = bob.event("g", "message", gid)
        self.assertEqual((replayed["headers"]["replay"], replayed["body"]), ("true", TEXT))
        dana = self.subscriber("dana", ("g", "/topic/rooms/" + gid, {}))
        self.call("alice", "POST", R + "/members", {"user": "agent2"}, expect=200, room=gid)
        bob.event("g", "member-joined", gid, user="agent2", by="alice")
        self.call("agent2", "DELETE", R, expect=200, room=gid)
        self.assertNotIn("by", bob.event("g", "member-left", gid, user="agent2")["body"])
        self.call("alice", "POST", R + "/members", {"user": "agent2"}, expect=200, room=gid)
        self.call("alice", "PUT", R + "/members/{user}/role", {"role": "admin"}, expect=200, room=gid, user="agent2")
        bob.event("g", "role-changed", gid, user="agent2", role="admin", by="alice")
        self.call("agent2", "PATCH", R, {"title": "새 이름 😀"}, expect=200, room=gid)
        bob.event("g", "renamed", gid, title="새 이름 😀", by="agent2")
        self.call("alice", "DELETE", R + "/members/{user}", expect=200, room=gid, user="agent2")
        bob.event("g", "member-left", gid, user="agent2", by="alice")

        # Erasing dana: her support room is deleted, she leaves the group,
        # her message there is a tombstone.
        dana.send("/app/rooms/%s/send" % gid, TEXT, receipt="d1", **{"client-id": "d-1"})
        self.assertEqual(bob.event("g", "message", gid)["headers"]["client-id"], "d-1")
        did = self.fresh_support("dana")
        agent.event("q", "opened", did)
        dana.subscribe("d", "/topic/rooms/" + did)
        self.call("admin1", "DELETE", "/api/users/{user}", expect=200, user="dana")
        gone = dana.event("d", "deleted", did, erased=True)
        self.assertEqual(gone["headers"]["subscription-ended"], "true")
        ended = dana.event("g", "member-left", gid, user="dana", erased=True)
        self.assertEqual(ended["headers"]["subscription-ended"], "true")
        bob.event("g", "member-left", gid, user="dana", erased=True)
        page = self.call("bob", "GET", R + "/messages", expect=200, room=gid)[1]["messages"]
        self.assertEqual([(m["sender"], m["client_id"], m["body"]) for m in page if m.get("erased")], [("", None, "")])
        bob.subscribe("g2", "/topic/rooms/" + gid, **{"since-seq": "1"})
        tomb = bob.event("g2", "message", gid)
        self.assertEqual((tomb["headers"]["sender"], tomb["headers"]["seq"], tomb["body"]), ("", "2", ""))

        # A reaction: who, which, and the message's counts.
        alice.send("/app/rooms/%s/react" % gid, "👍🏽", receipt="gr", **{"message-seq": "1"})
        rx = bob.event("g", "reaction", gid, user="alice", action="added", seq=1)
        self.assertEqual(rx["body"]["reactions"], [{"emoji": "👍🏽", "count": 1}])

        # A message edited, then deleted, and the change replayed after since-rev.
        alice.send("/app/rooms/%s/edit" % gid, TEXT + " ✏️", receipt="ge", **{"message-seq": "1"})
        edited = bob.event("g", "message-edited", gid)
        self.assertEqual((edited["headers"]["seq"], edited["headers"]["rev"], edited["headers"]["by"]),
                         ("1", "1", "alice"))
        alice.send("/app/rooms/%s/delete" % gid, receipt="gd", **{"message-seq": "1"})
        self.assertEqual(bob.event("g", "message-deleted", gid)["body"], "")
        bob.subscribe("g3", "/topic/rooms/" + gid, **{"since-seq": "2", "since-rev": "1"})
        back = bob.event("g3", "message-deleted", gid)
        self.assertEqual((back["headers"]["replay"], back["headers"]["seq"], back["headers"]["rev"]),
                         ("true", "1", "2"))

        self.call("alice", "DELETE", R, query={"for": "everyone"}, expect=200, room=gid)
        deleted = bob.event("g", "deleted", gid, by="alice")
        self.assertEqual(deleted["headers"]["subscription-ended"], "true")

        # The support desk: agents' availability, and with automatic
        # assignment (a chatd of its own) a waiting customer's place.
        desk = self.subscriber("agent2", ("a", "/topic/support/agents", {}))
        self.call("agent1", "PUT", "/api/agents/me/status", {"status": "away"}, expect=200)
        desk.event("a", "agent-status", None, user="agent1", status="away")
        self.call("agent1", "PUT", "/api/agents/me/status", {"status": "online"}, expect=200)
        desk.event("a", "agent-status", None, user="agent1", status="online")
        self.waiting_customer_hears_place()

        # Presence: one's own change, told to oneself (and those sharing a room).
        watcher = self.subscriber("bob", ("p", "/user/queue/presence", {}))
        self.call("bob", "PUT", "/api/presence", {"status": "away"}, expect=200)
        watcher.event("p", "presence", None, user="bob", status="away", last_seen=None)
        self.call("bob", "PUT", "/api/presence", {"status": "online"}, expect=200)
        watcher.event("p", "presence", None, user="bob", status="online")

        every = {(ch, ev) for ch in ("room-topic", "support-queue", "support-agents", "notifications", "presence")
                 for ev in self.events["$defs"][ch]["$defs"]}
        self.assertEqual(every - self.seen, set(), "events the test did not receive")


class OpenApiOldStorage(LiveServer):
    """The answers only a storage plugin of SDK 1.1 gives (no group roles,
    no room_close, no user_erase): documented too."""

    @staticmethod
    def storage(data):
        abi_dir = os.environ.get("CHATD_ABI_DIR",
                                 os.path.join(os.path.dirname(os.path.abspath(PLUGIN_DIR)), "tests", "sdk", "plugins"))
        plugin = os.path.join(abi_dir, "sdk_storage_files_1_1.so")
        assert os.path.exists(plugin), "not built: " + plugin
        return {"plugin": plugin, "path": os.path.join(data, "rooms.log")}

    def test_answers_and_events_of_sdk_1_1_storage(self):
        R = "/api/rooms/{room}"
        bob = self.subscriber("bob", ("n", "/user/queue/notifications", {}))
        gid = self.call("alice", "POST", "/api/rooms", {"kind": "group", "title": TITLE, "members": ["agent1"]},
                        expect=201)[1]["id"]
        self.assertEqual(self.call("alice", "GET", R, expect=200, room=gid)[1]["admins"], [])
        # history without room_page (SDK 2.13): the room looked up, then its page
        self.assertEqual(self.call("alice", "GET", R + "/messages", expect=200, room=gid)[1]["messages"], [])
        self.call("alice", "POST", R + "/members", {"user": "bob"}, expect=200, room=gid)
        self.assertEqual(bob.event("n", "room-added", gid)["body"], {"room": gid})
        for method, template, body, params in (("PATCH", R, {"title": "새 이름 😀"}, {}),
                                               ("PUT", R + "/members/{user}/role", {"role": "admin"}, {"user": "bob"})):
            self.assertEqual(self.call("alice", method, template, body, expect=501, room=gid, **params)[1]["error"],
                             "not_supported")
        sid = self.fresh_support("alice")
        watch = self.subscriber("alice", ("s", "/topic/rooms/" + sid, {}))
        self.assertEqual(self.call("alice", "DELETE", R, expect=200, room=sid)[1],
                         {"room": sid, "result": "closed", "history": "deleted"})
        watch.event("s", "closed", sid, by="alice")
        self.call("alice", "GET", R, expect=404, room=sid)
        refused = self.call("admin1", "DELETE", "/api/users/{user}", expect=501, user="bob")[1]
        self.assertIn("(SDK 1.1)", refused["message"])
        # Edits and deletes need SDK 2.2's message_edit.
        alice = self.subscriber("alice")
        alice.send("/app/rooms/%s/send" % gid, TEXT, receipt="m1")
        for method, body in (("PATCH", {"body": "x"}), ("DELETE", None)):
            self.assertEqual(self.call("alice", method, R + "/messages/{seq}", body, expect=501, room=gid,
                                       seq="1")[1]["error"], "not_supported")
        # Reactions need SDK 2.5's reaction_change; history then has none.
        for method in ("PUT", "DELETE"):
            self.assertEqual(self.call("alice", method, R + "/messages/{seq}/reactions/{emoji}", expect=501, room=gid,
                                       seq="1", emoji="👍")[1]["error"], "not_supported")
        page = self.call("alice", "GET", R + "/messages", expect=200, room=gid)[1]["messages"]
        self.assertNotIn("reactions", page[0])


if __name__ == "__main__":
    unittest.main()
