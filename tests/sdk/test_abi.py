"""The loader's version rule, seen from plugins built for other SDK versions:
every minor up to chatd's own loads (an older plugin keeps working after an
upgrade), and a plugin of the previous major is refused with one line that
says why. (A newer minor and the next major: tests/loader/test_loader.py.)"""
import os
import re
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from chatd_harness import CHATD_BIN, default_sections, render_ini  # noqa: E402

ABI_DIR = os.environ.get("CHATD_ABI_DIR", "build/tests/sdk/plugins")


def chatd_abi():
    out = subprocess.run([CHATD_BIN, "--version"], capture_output=True, text=True, timeout=30).stdout
    m = re.search(r"SDK ABI (\d+)\.(\d+)", out)
    assert m, out
    return int(m.group(1)), int(m.group(2))


def check_with(plugin):
    s = default_sections(1, 2)
    s["notify.abi"] = {"plugin": plugin}
    with tempfile.NamedTemporaryFile("w", suffix=".ini", delete=False) as f:
        f.write(render_ini(s))
        path = f.name
    try:
        return subprocess.run([CHATD_BIN, "--check-config", "-c", path], capture_output=True, text=True,
                              timeout=30), path
    finally:
        os.unlink(path)


def so(major, minor):
    return os.path.join(ABI_DIR, "sdk_abi_%d_%d.so" % (major, minor))


class AbiVersions(unittest.TestCase):
    def test_every_minor_up_to_chatds_loads(self):
        major, minor = chatd_abi()
        for m in range(minor + 1):
            with self.subTest(plugin_abi="%d.%d" % (major, m)):
                self.assertTrue(os.path.exists(so(major, m)), "not built: " + so(major, m))
                p, _ = check_with(so(major, m))
                self.assertEqual(p.returncode, 0, p.stderr)

    def test_previous_major_is_refused(self):
        major, minor = chatd_abi()
        plugin = so(major - 1, minor)
        p, path = check_with(plugin)
        self.assertNotEqual(p.returncode, 0, p.stdout)
        lines = p.stderr.strip().splitlines()
        self.assertEqual(lines, ["%s: [notify.abi] plugin: %s was built for SDK ABI %d.%d; this chatd speaks "
                                 "%d.%d (major versions differ)" % (path, plugin, major - 1, minor, major, minor)])


if __name__ == "__main__":
    unittest.main()
