"""The loader refuses each purpose-built broken plugin with its own line, and
loads a plugin of a newer minor of its SDK and one of SDK 1 (the version
rule of plugin.h)."""
import os
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from chatd_harness import CHATD_BIN, default_sections, render_ini  # noqa: E402

BROKEN = os.environ.get("CHATD_BROKEN_DIR", "build/tests/loader/plugins")
SOURCE = os.environ.get("CHATD_SOURCE_DIR", ".")


def abi():
    """(major, minor) as the SDK headers define them."""
    import re
    with open(os.path.join(SOURCE, "sdk", "include", "chatd", "host.h")) as f:
        text = f.read()
    return tuple(int(re.search(r"#define CHATD_ABI_%s (\d+)" % k, text).group(1)) for k in ("MAJOR", "MINOR"))


MAJOR, MINOR = abi()


def run_check(auth):
    s = default_sections(1, 2)
    s["auth"] = auth
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(render_ini(s))
        path = f.name
    try:
        p = subprocess.run([CHATD_BIN, "--check-config", "-c", path], capture_output=True, text=True,
                           timeout=30)
        return p, path
    finally:
        os.unlink(path)


def so(name):
    return os.path.join(BROKEN, "broken_%s.so" % name)


class Loader(unittest.TestCase):
    def refused(self, name, expected, extra=None):
        auth = {"plugin": so(name)}
        auth.update(extra or {})
        p, path = run_check(auth)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, p.stderr)
        self.assertEqual(lines[0], "%s: [auth] %s" % (path, expected.replace("PATH", so(name))))

    def test_wrong_abi_major(self):
        self.refused("wrong_major", "plugin: PATH was built for SDK ABI %d.0; this chatd speaks %d.%d "
                     "(major versions differ: rebuild the plugin against SDK %d)" % (MAJOR + 1, MAJOR, MINOR, MAJOR))

    def test_newer_minor_loads(self):
        p, path = run_check({"plugin": so("newer_minor"), "mode": "on"})
        self.assertEqual(p.returncode, 0, p.stderr)

    def test_a_plugin_of_sdk_1_loads(self):
        p, path = run_check({"plugin": so("sdk1_control"), "mode": "on"})
        self.assertEqual(p.returncode, 0, p.stderr)
        p, path = run_check({"plugin": so("sdk1_control"), "mode": "on", "colour": "red"})
        self.assertEqual(p.stderr.strip().splitlines(), ["%s: [auth] colour: unknown key" % path])

    def test_descriptor_without_size(self):
        self.refused("no_size", "plugin: PATH descriptor is 0 bytes, shorter than SDK %d.0's (its size is unset: "
                     "CHATD_PLUGIN_DEFINE sets it)" % MAJOR)

    def test_missing_symbol(self):
        self.refused("no_symbol", "plugin: PATH does not export chatd_plugin_descriptor")

    def test_wrong_kind(self):
        self.refused("wrong_kind", "plugin: PATH is a storage plugin; [auth] needs an auth plugin")

    def test_missing_mandatory_op(self):
        self.refused("missing_op", "plugin: PATH lacks mandatory operation 'authenticate'")

    def test_ops_table_too_short_for_mandatory_op(self):
        self.refused("short_ops", "plugin: PATH lacks mandatory operation 'authenticate'")

    def test_missing_init(self):
        self.refused("no_init", "plugin: PATH lacks mandatory operation 'init'")

    def test_failing_init(self):
        self.refused("failing_init", "mode: must be 'on', got 'off'", {"mode": "off"})

    def test_unknown_key_after_init(self):
        self.refused("unknown_key_reader", "colour: unknown key", {"mode": "on", "colour": "red"})

    def test_not_a_shared_object(self):
        with tempfile.NamedTemporaryFile("w", suffix=".so", delete=False) as f:
            f.write("not elf")
        try:
            p, path = run_check({"plugin": f.name})
            lines = p.stderr.strip().splitlines()
            self.assertNotEqual(p.returncode, 0)
            self.assertEqual(len(lines), 1, p.stderr)
            self.assertTrue(lines[0].startswith("%s: [auth] plugin: cannot load %s: " % (path, f.name)),
                            lines[0])
        finally:
            os.unlink(f.name)

    def test_healthy_control_loads(self):
        p, path = run_check({"plugin": so("unknown_key_reader"), "mode": "on"})
        self.assertEqual(p.returncode, 0, p.stderr)


if __name__ == "__main__":
    unittest.main()
