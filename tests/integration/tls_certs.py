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
    # -utf8: a subject of Korean letters goes in as a UTF8String.
    _run("req", "-utf8", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
         "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
    _run("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key", "-CAcreateserial",
         "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


def _ca_db(d):
    """openssl ca's database in d (made once), for certificates it can
    later revoke and list in a CRL; certificates of every CA of d."""
    if os.path.exists(os.path.join(d, "ca.cnf")):
        return
    with open(os.path.join(d, "ca.cnf"), "w") as f:
        f.write("[ca]\ndefault_ca = ca_default\n[ca_default]\ndatabase = index.txt\nnew_certs_dir = .\n"
                "serial = serial\ndefault_md = sha256\npolicy = any\nunique_subject = no\n"
                "default_crl_days = 1\n[any]\ncommonName = supplied\n")
    open(os.path.join(d, "index.txt"), "w").close()
    with open(os.path.join(d, "serial"), "w") as f:
        f.write("1000\n")


def issue_listed(d, ca, name, subject, startdate=None, enddate=None):
    """A client certificate `ca` issues through openssl ca (so that it can
    be revoked); startdate/enddate as YYYYMMDDHHMMSSZ, else valid two days."""
    _ca_db(d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("extendedKeyUsage=clientAuth\n")
    _run("req", "-utf8", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
         "-keyout", name + ".key", "-out", name + ".csr", cwd=d)
    dates = ["-startdate", startdate, "-enddate", enddate] if startdate else ["-days", "2"]
    _run("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem", "-keyfile", ca + ".key", "-in", name + ".csr",
         "-out", name + ".pem", "-extfile", name + ".ext", "-notext", *dates, cwd=d)


def issue_expired(d, ca, name, subject):
    """A client certificate `ca` issued that expired in 2020 (openssl ca
    sets any validity; openssl x509 only one from now)."""
    issue_listed(d, ca, name, subject, "20200101000000Z", "20200102000000Z")


def revoke(d, ca, name):
    """Mark name's certificate (issue_listed) revoked in the database."""
    _run("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem", "-keyfile", ca + ".key", "-revoke",
         name + ".pem", cwd=d)


def crl(d, ca, out):
    """ca's CRL of what the database says is revoked, into out."""
    _ca_db(d)
    _run("ca", "-batch", "-config", "ca.cnf", "-cert", ca + ".pem", "-keyfile", ca + ".key", "-gencrl",
         "-out", out, cwd=d)


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
