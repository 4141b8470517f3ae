"""A support desk's canned replies (docs/support-desk.md, "Canned
replies") over REST with urllib clients, on the storage of CHATD_PROFILE
(as test_rooms.py's): saved by admins, read by agents, replaced, deleted,
Korean and emoji kept, every refusal; [support] canned_writers = agents;
on a shared backend, two instances writing one shortcut at once."""
import os
import threading
import unittest
import urllib.parse

from chatd_harness import Chatd, default_sections, wait_for
from test_check_config import check
from test_rooms import PROFILES, ProfileServer, healthy

BODY_KO = "안녕하세요, 고객님 😀\n환불은 3–5 영업일 안에 처리됩니다. \"영수증\"을 보내 주세요."


def path(shortcut):
    return "/api/support/canned/" + urllib.parse.quote(shortcut, safe="")


class CannedReplies(ProfileServer):
    PREFIX = "chatd-canned-"

    def put(self, user, shortcut, title, body):
        return self.api(user).call("PUT", path(shortcut), {"title": title, "body": body})

    def listed(self, user="agent1"):
        status, doc = self.api(user).get("/api/support/canned")
        self.assertEqual(status, 200, doc)
        return doc

    def forget(self, shortcut):
        self.addCleanup(self.api("admin1").delete, path(shortcut))

    def test_saved_read_replaced_deleted(self):
        """An admin saves Korean and emoji replies; agents list them by
        shortcut and read one; a second PUT replaces it; DELETE removes it."""
        for sc in ("환불", "refund", "인사😀"):
            self.forget(sc)
        status, saved = self.put("admin1", "/환불", "환불 안내", BODY_KO)
        self.assertEqual(status, 201, saved)
        self.assertEqual((saved["shortcut"], saved["title"], saved["body"], saved["updated_by"], saved["desk"]),
                         ("환불", "환불 안내", BODY_KO, "admin1", "default"))
        self.assertIsInstance(saved["updated_at"], int)
        self.assertEqual(self.put("admin1", "Refund", "Refunds", "Refunds take 3-5 days.")[0], 201)
        self.assertEqual(self.put("admin1", "인사😀", "인사 🙂", "반갑습니다 👋")[0], 201)

        doc = self.listed("agent2")
        shortcuts = [r["shortcut"] for r in doc["replies"]]
        self.assertEqual(shortcuts, sorted(shortcuts, key=lambda s: s.encode()), "byte order")
        self.assertTrue({"refund", "환불", "인사😀"} <= set(shortcuts), shortcuts)
        self.assertEqual((doc["desk"], doc["can_edit"], doc["max"]), ("default", False, 500))
        self.assertTrue(self.listed("admin1")["can_edit"])
        mine = next(r for r in doc["replies"] if r["shortcut"] == "환불")
        self.assertEqual((mine["title"], mine["body"]), ("환불 안내", BODY_KO))

        status, one = self.api("agent1").get(path("/환불"))
        self.assertEqual((status, one["body"]), (200, BODY_KO), one)
        status, one = self.api("agent1").get(path("REFUND"))
        self.assertEqual((status, one["title"]), (200, "Refunds"), one)

        status, replaced = self.put("admin1", "환불", "환불 (개정)", "새 안내 🎉")
        self.assertEqual((status, replaced["title"]), (200, "환불 (개정)"), replaced)
        self.assertEqual(self.api("agent2").get(path("환불"))[1]["body"], "새 안내 🎉")
        self.assertEqual([r["shortcut"] for r in self.listed()["replies"]].count("환불"), 1)

        status, _ = self.api("admin1").delete(path("환불"))
        self.assertEqual(status, 204)
        status, gone = self.api("admin1").delete(path("환불"))
        self.assertEqual((status, gone["error"]), (404, "not_found"), gone)
        self.assertEqual(self.api("agent1").get(path("환불"))[0], 404)
        self.assertNotIn("환불", [r["shortcut"] for r in self.listed()["replies"]])

    def test_who_may(self):
        """Agents read but do not write (the default); customers neither."""
        self.forget("who")
        status, err = self.put("agent1", "who", "T", "B")
        self.assertEqual((status, err["error"]), (403, "forbidden"), err)
        self.assertIn("admins", err["message"])
        self.assertEqual(self.put("admin1", "who", "T", "B")[0], 201)
        for call in (lambda: self.api("alice").get("/api/support/canned"),
                     lambda: self.api("alice").get(path("who")),
                     lambda: self.put("alice", "who", "T", "B"),
                     lambda: self.api("alice").delete(path("who")),
                     lambda: self.api("agent1").delete(path("who"))):
            status, err = call()
            self.assertEqual(status, 403, err)
        self.assertEqual(self.api("agent1").get(path("who"))[0], 200)

    def test_refusals(self):
        """Shortcuts, titles and bodies out of bounds get 400 with a reason."""
        ok_body = "본문"
        for bad in ("two words", "a\u3000b", "tab\tx", "a\u200bb", "a%2Fb", "a?b", "a#b", "가" * 33, "x" * 33):
            status, err = self.put("admin1", bad, "T", ok_body)
            self.assertEqual((status, err["error"]), (400, "bad_request"), bad)
            self.assertIn("shortcut", err["message"], bad)
        # A '/' inside is a path separator: no such endpoint.
        for bad in ("/", "a/b"):
            self.assertEqual(self.put("admin1", bad, "T", ok_body)[0], 404, bad)
        self.forget("가" * 32)
        self.assertEqual(self.put("admin1", "가" * 32, "T", ok_body)[0], 201, "32 Korean characters")
        self.forget("ok")
        for title, body in (("", ok_body), ("x" * 201, ok_body), ("line\nbreak", ok_body), ("T", ""),
                            ("T", "x" * 4001), ("T", "bell\x07")):
            status, err = self.put("admin1", "ok", title, body)
            self.assertEqual(status, 400, (title[:10], body[:10], err))
        self.assertEqual(self.put("admin1", "ok", "한" * 66, "가" * 1333)[0], 201, "the largest in bytes")
        status, err = self.api("admin1").call("PUT", path("ok"), {"title": "T"})
        self.assertEqual((status, err["error"]), (400, "bad_request"), err)
        status, err = self.api("admin1").call("PUT", path("ok"), {"title": 5, "body": "b"})
        self.assertEqual(status, 400, err)
        self.assertEqual(self.api("admin1").call("POST", "/api/support/canned", {})[0], 405)


class CannedAgentsWrite(ProfileServer):
    """[support] canned_writers = agents: agents save and delete too."""
    PREFIX = "chatd-canned-agents-"

    @classmethod
    def edit_config(cls, sections):
        sections.setdefault("support", {})["canned_writers"] = "agents"

    def test_agents_write(self):
        api = self.api("agent1")
        self.addCleanup(self.api("admin1").delete, path("배송"))
        status, saved = api.call("PUT", path("배송"), {"title": "배송 안내", "body": "배송은 이틀 걸립니다 🚚"})
        self.assertEqual((status, saved["updated_by"]), (201, "agent1"), saved)
        status, doc = self.api("agent2").get("/api/support/canned")
        self.assertTrue(doc["can_edit"])
        self.assertEqual(self.api("agent2").delete(path("배송"))[0], 204)
        self.assertEqual(self.api("alice").call("PUT", path("x"), {"title": "T", "body": "B"})[0], 403)


class CannedConfig(unittest.TestCase):
    def test_canned_writers_errors_name_the_key(self):
        s = default_sections(1, 2)
        for bad in ("everyone", "Agents", "admins agents"):
            s["support"] = {"canned_writers": bad}
            p, path = check(s)
            self.assertNotEqual(p.returncode, 0)
            line = p.stderr.strip()
            self.assertEqual(len(line.splitlines()), 1, p.stderr)
            self.assertTrue(line.startswith(path + ": "), line)
            self.assertIn("[support] canned_writers", line)
            self.assertIn("expected admins or agents", line)
        for good in ("admins", "agents", ""):
            s["support"] = {"canned_writers": good}
            p, _ = check(s)
            self.assertEqual(p.returncode, 0, p.stderr)


@unittest.skipUnless(os.environ.get("CHATD_PROFILE") in ("postgres", "mysql", "redis"),
                     "a second instance needs a shared backend")
class CannedTwoInstances(ProfileServer):
    """Two chatd instances on one backend: a reply saved on one is read on
    the other; both write one new shortcut at once, it is created once and
    ends as one writer's, whole."""
    PREFIX = "chatd-canned-two-"

    def test_shared(self):
        name = os.environ["CHATD_PROFILE"]
        other = Chatd(lambda s: PROFILES[name](s, dict(self.backends, path=self.data))).start()
        self.addCleanup(other.cleanup)
        self.addCleanup(other.stop)
        wait_for(lambda: healthy(other.http_port), what="the second instance ready")
        from rooms_client import Api
        a, b = Api(self.server.http_port, "admin1"), Api(other.http_port, "admin1")
        self.addCleanup(a.delete, path("동시😀"))
        self.addCleanup(a.delete, path("shared"))
        self.assertEqual(a.call("PUT", path("shared"), {"title": "공유", "body": "하나 🙂"})[0], 201)
        status, one = Api(other.http_port, "agent2").get(path("shared"))
        self.assertEqual((status, one["body"]), (200, "하나 🙂"), one)

        results = {}
        start = threading.Barrier(2)

        def writer(api, tag):
            start.wait()
            results[tag] = api.call("PUT", path("동시😀"), {"title": "제목 " + tag, "body": "본문 " + tag + " 😀"})

        threads = [threading.Thread(target=writer, args=(api, tag)) for api, tag in ((a, "A"), (b, "B"))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        codes = sorted(r[0] for r in results.values())
        self.assertEqual(codes, [200, 201], results)
        listed = [r for r in a.get("/api/support/canned")[1]["replies"] if r["shortcut"] == "동시😀"]
        self.assertEqual(len(listed), 1, listed)
        tag = listed[0]["title"][-1]
        self.assertEqual(listed[0]["body"], "본문 " + tag + " 😀", listed[0])


if __name__ == "__main__":
    unittest.main()
