"""Throwaway certificates for the TLS tests, made with the openssl command
at set-up in a temporary folder: a test CA, a server certificate for
127.0.0.1 and localhost, client certificates it issued, and a second CA
nobody trusts with a client certificate of its own."""
import os
import subprocess


def _run(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True, timeout=60)


def _ca(d, name):
    _run("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
         "-subj", "/CN=%s" % name, "-keyout", name + ".key", "-out", name + ".pem", cwd=d)


def _issue(d, ca, name, subject, ext):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    _run("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
         "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
    _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
         "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


class Certs:
    """Paths of the PEM files in folder d."""

    def __init__(self, d):
        self.dir = d
        _ca(d, "ca")
        _ca(d, "rogue-ca")
        _issue(d, "ca", "server", "/CN=localhost",
               "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n")
        _issue(d, "ca", "alice", "/CN=alice", "extendedKeyUsage=clientAuth\n")
        _issue(d, "rogue-ca", "mallory", "/CN=alice", "extendedKeyUsage=clientAuth\n")
        # A key of its own that belongs to no certificate here.
        _run("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "other.key", cwd=d)

    def path(self, name):
        return os.path.join(self.dir, name)
