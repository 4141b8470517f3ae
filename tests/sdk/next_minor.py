"""Write the SDK headers as the next minor could ship them: CHATD_ABI_MINOR
one higher, and one member appended to every struct that crosses the ABI
(the descriptor, the host, each ops table and data struct), as the growth
rule of plugin.h allows.

    next_minor.py SDK_INCLUDE_DIR OUT_DIR

A plugin built against OUT_DIR stands in for one built against newer headers
than chatd's: bigger structs and strides, longer ops tables, a larger
descriptor. test_abi.py runs chatd on storage-files built that way."""
import os
import re
import sys

src, out = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(out, "chatd"), exist_ok=True)
for name in ("host.h", "plugin.h"):
    with open(os.path.join(src, "chatd", name)) as f:
        text = f.read()
    text, n = re.subn(r"^#define CHATD_ABI_MINOR (\d+)$", lambda m: "#define CHATD_ABI_MINOR %d" % (int(m.group(1)) + 1),
                      text, flags=re.M)
    assert n == (1 if name == "host.h" else 0), (name, n)

    def grow(m):
        return "%s    uint64_t added_in_next_minor; /* next_minor.py */\n};" % m.group(1)
    text, n = re.subn(r"^(struct chatd_\w+ \{\n.*?)^\};", grow, text, flags=re.M | re.S)
    assert n >= (1 if name == "host.h" else 13), (name, n)
    with open(os.path.join(out, "chatd", name), "w") as f:
        f.write(text)
