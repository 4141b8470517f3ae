"""Real backing servers for the tests, each on a free loopback port in a temp
dir of its own, stopped and removed afterwards. Never a shared service."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile

from chatd_harness import free_port, wait_for


def log_tail(path, offset=0, limit=4000):
    """What a server wrote to its log from offset on (the last limit bytes)."""
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read()[-limit:].decode(errors="replace")
    except OSError as e:
        return "(no log: %s)" % e


class Redis:
    """redis-server with AOF fsync'd on every write, so a restart keeps
    everything it acknowledged."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-redis-")
        self.port = free_port()
        self.proc = None
        self.started = False

    @property
    def address(self):
        return "127.0.0.1:%d" % self.port

    def ping(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def start(self):
        # A port found free may be taken before the server binds it (another
        # test's server): at the first start, try another. A restart keeps
        # its port, since clients reconnect to it.
        for attempt in range(1 if self.started else 5):
            if attempt:
                self.port = free_port()
            self.proc = subprocess.Popen(
                ["redis-server", "--bind", "127.0.0.1", "--port", str(self.port), "--dir", self.dir,
                 "--appendonly", "yes", "--appendfsync", "always", "--save", "",
                 "--logfile", os.path.join(self.dir, "redis.log")],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for(lambda: self.proc.poll() is not None or self.ping(), what="redis-server to answer")
            if self.proc.poll() is None:
                self.started = True
                return self
            if "Address already in use" not in log_tail(os.path.join(self.dir, "redis.log")):
                break
        raise AssertionError("redis-server exited at start:\n" + log_tail(os.path.join(self.dir, "redis.log")))

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
        self.proc = None

    def kill(self):
        """Die at once, as in a crash."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class RabbitMQ:
    """rabbitmq-server as the rabbitmq user (setpriv: su would reset the
    open-files limit), with its own node name, ports, epmd port, HOME and
    data dir. Ready when the broker says so in its log."""

    BIN = "/usr/lib/rabbitmq/bin/rabbitmq-server"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-rabbit-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.dist_port = free_port()
        self.epmd_port = free_port()
        self.node = "chatd%d@localhost" % self.port
        self.proc = None
        for sub in ("mnesia", "log", "home"):
            os.makedirs(os.path.join(self.dir, sub), exist_ok=True)
        with open(os.path.join(self.dir, "rabbitmq.conf"), "w") as f:
            f.write("listeners.tcp.default = 127.0.0.1:%d\nloopback_users = none\n" % self.port)
        with open(os.path.join(self.dir, "enabled_plugins"), "w") as f:
            f.write("[].\n")
        subprocess.run(["chown", "-R", "rabbitmq:rabbitmq", self.dir], check=True)

    @property
    def url(self):
        return "amqp://guest:guest@127.0.0.1:%d/" % self.port

    def env(self):
        e = dict(os.environ)
        e.update({
            "RABBITMQ_CONFIG_FILE": os.path.join(self.dir, "rabbitmq"),
            "RABBITMQ_ENABLED_PLUGINS_FILE": os.path.join(self.dir, "enabled_plugins"),
            "RABBITMQ_MNESIA_BASE": os.path.join(self.dir, "mnesia"),
            "RABBITMQ_LOG_BASE": os.path.join(self.dir, "log"),
            "RABBITMQ_FEATURE_FLAGS_FILE": os.path.join(self.dir, "feature_flags"),
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "ERL_EPMD_PORT": str(self.epmd_port),
            "ERL_EPMD_ADDRESS": "127.0.0.1",
            "HOME": os.path.join(self.dir, "home"),
        })
        return e

    def start(self, timeout=90):
        log = os.path.join(self.dir, "out.log")
        offset = os.path.getsize(log) if os.path.exists(log) else 0  # a restart appends
        self.out = open(log, "ab")
        self.proc = subprocess.Popen(
            ["setpriv", "--reuid", "rabbitmq", "--regid", "rabbitmq", "--init-groups", self.BIN],
            env=self.env(), cwd=self.dir, stdout=self.out, stderr=subprocess.STDOUT, start_new_session=True)

        def ready():
            if self.proc.poll() is not None:
                return True
            with open(log, "rb") as f:
                f.seek(offset)
                return b"Starting broker... completed" in f.read()

        wait_for(ready, timeout=timeout, what="rabbitmq-server to start")
        if self.proc.poll() is not None:
            raise AssertionError("rabbitmq-server exited at start:\n" + self.read_log())
        return self

    def read_log(self):
        with open(os.path.join(self.dir, "out.log"), errors="replace") as f:
            return f.read()

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL if kill else signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if self.proc:
            # The script may exit before the Erlang VM it started: wait for
            # the whole process group, and end it if it lingers.
            def gone():
                try:
                    os.killpg(self.proc.pid, 0)
                    return False
                except ProcessLookupError:
                    return True
            try:
                wait_for(gone, timeout=30, what="the RabbitMQ node to exit")
            except AssertionError:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                wait_for(gone, timeout=10, what="the RabbitMQ node to be killed")
        self.proc = None
        if getattr(self, "out", None):
            self.out.close()
            self.out = None

    def kill(self):
        self.stop(kill=True)

    def cleanup(self):
        self.stop()
        # The Erlang port mapper the node started on its own port outlives it.
        mark = b"ERL_EPMD_PORT=%d\0" % self.epmd_port
        for pid in os.listdir("/proc"):
            try:
                with open("/proc/%s/environ" % pid, "rb") as f:
                    if mark in f.read():
                        os.kill(int(pid), signal.SIGKILL)
            except (OSError, ValueError):
                pass
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cleanup()


class PostgreSQL:
    """A PostgreSQL server of its own (initdb in a temp dir, run as the
    postgres user), fsync on, database "chatd"."""

    BIN = "/usr/lib/postgresql/15/bin"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-pg-")
        self.port = free_port()
        self.proc = None
        subprocess.run(["chown", "postgres:postgres", self.dir], check=True)
        self.run_as = ["setpriv", "--reuid=postgres", "--regid=postgres", "--clear-groups", "--"]
        subprocess.run(self.run_as + [os.path.join(self.BIN, "initdb"), "-D", os.path.join(self.dir, "data"),
                                      "-U", "chatd", "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.created = False

    @property
    def conninfo(self):
        return "host=127.0.0.1 port=%d dbname=chatd user=chatd" % self.port

    def ready(self):
        return subprocess.run([os.path.join(self.BIN, "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                               str(self.port), "-t", "1"]).returncode == 0

    def start(self):
        log = os.path.join(self.dir, "server.log")
        # As for Redis: another port if the first start finds this one taken.
        tries = 1 if self.created else 5
        for attempt in range(tries):
            if attempt:
                self.port = free_port()
            offset = os.path.getsize(log) if os.path.exists(log) else 0
            self.log = open(log, "ab")
            self.proc = subprocess.Popen(
                self.run_as + [os.path.join(self.BIN, "postgres"), "-D", os.path.join(self.dir, "data"), "-h",
                               "127.0.0.1", "-p", str(self.port), "-k", self.dir, "-c", "fsync=on"],
                stdout=self.log, stderr=subprocess.STDOUT)
            wait_for(lambda: self.proc.poll() is not None or self.ready(), timeout=30, what="postgres to accept")
            if self.proc.poll() is None:
                break
            self.log.close()
            self.log = None
            said = log_tail(log, offset)
            if "could not bind" not in said or attempt == tries - 1:
                raise AssertionError("postgres exited at start:\n" + said)
        if not self.created:
            subprocess.run([os.path.join(self.BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U",
                            "chatd", "chatd"], check=True)
            self.created = True
        return self

    def database(self, name):
        """The conninfo of a new, empty database `name` on this server."""
        subprocess.run([os.path.join(self.BIN, "createdb"), "-h", "127.0.0.1", "-p", str(self.port), "-U", "chatd",
                        name], check=True)
        return "host=127.0.0.1 port=%d dbname=%s user=chatd" % (self.port, name)

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            # SIGKILL leaves shared memory to the next start's crash recovery.
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGINT)
            self.proc.wait(timeout=60)
        self.proc = None
        if getattr(self, "log", None):
            self.log.close()
            self.log = None

    def kill(self):
        """Immediate shutdown (SIGQUIT): no checkpoint, crash recovery at the
        next start — as after a crash, without orphaned backends."""
        self.proc.send_signal(signal.SIGQUIT)
        self.proc.wait(timeout=60)
        self.proc = None
        self.log.close()
        self.log = None

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class MariaDB:
    """A MariaDB server of its own (mariadb-install-db in a temp dir, run as
    the mysql user, never the system service), its own socket, durable
    commits (innodb_flush_log_at_trx_commit=1), a database "chatd" and a
    user "chatd" allowed only on chatd's databases. kill() is SIGKILL: crash
    recovery at the next start()."""

    SBIN = "/usr/sbin"

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="chatd-mysql-")
        self.port = free_port()
        self.proc = None
        self.log = None
        user = "mysql" if os.getuid() == 0 else None
        self.user = user or os.environ.get("USER", "nobody")
        if user:
            os.chmod(self.dir, 0o711)
            subprocess.run(["chown", user, self.dir], check=True)
        # its own tmpdir, never the shared /tmp
        self.tmp = os.path.join(self.dir, "tmp")
        os.mkdir(self.tmp)
        if user:
            subprocess.run(["chown", user, self.tmp], check=True)
        subprocess.run(["mariadb-install-db", "--no-defaults", "--user=" + self.user,
                        "--datadir=" + os.path.join(self.dir, "data"), "--tmpdir=" + self.tmp,
                        "--auth-root-authentication-method=socket",
                        "--skip-test-db"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       env=dict(os.environ, PATH=os.environ.get("PATH", "") + ":" + self.SBIN))
        self.created = False

    @property
    def socket(self):
        return os.path.join(self.dir, "sock")

    def storage(self, database="chatd"):
        """The [storage] section of a chatd on database `database`."""
        return {"plugin": "mysql", "host": "127.0.0.1", "port": str(self.port), "user": "chatd",
                "password": "chatd", "database": database}

    def sql(self, text):
        subprocess.run(["mariadb", "--no-defaults", "--socket=" + self.socket, "-u", "root", "-e", text], check=True)

    def ready(self):
        return subprocess.run(["mariadb-admin", "--no-defaults", "--socket=" + self.socket, "-u", "root", "ping"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL).returncode == 0

    def start(self):
        log = os.path.join(self.dir, "server.log")
        tries = 1 if self.created else 5
        for attempt in range(tries):
            if attempt:
                self.port = free_port()
            offset = os.path.getsize(log) if os.path.exists(log) else 0
            self.log = open(log, "ab")
            self.proc = subprocess.Popen(
                [os.path.join(self.SBIN, "mariadbd"), "--no-defaults", "--user=" + self.user,
                 "--datadir=" + os.path.join(self.dir, "data"), "--tmpdir=" + self.tmp, "--port=%d" % self.port, "--bind-address=127.0.0.1",
                 "--socket=" + self.socket, "--pid-file=" + os.path.join(self.dir, "pid"), "--skip-log-bin",
                 "--innodb-flush-log-at-trx-commit=1", "--skip-name-resolve", "--max-connections=300"],
                stdout=self.log, stderr=subprocess.STDOUT)
            wait_for(lambda: self.proc.poll() is not None or self.ready(), timeout=60, what="mariadbd to accept")
            if self.proc.poll() is None:
                break
            self.log.close()
            self.log = None
            said = log_tail(log, offset)
            if "already in use" not in said or attempt == tries - 1:
                raise AssertionError("mariadbd exited at start:\n" + said)
        if not self.created:
            self.sql("CREATE USER 'chatd'@'127.0.0.1' IDENTIFIED BY 'chatd';"
                     "GRANT ALL ON `chatd%`.* TO 'chatd'@'127.0.0.1';"
                     "CREATE DATABASE chatd CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
            self.created = True
        return self

    def database(self, name):
        """The [storage] section of a chatd on a new, empty database `name`
        (starting with "chatd")."""
        self.sql("CREATE DATABASE `%s` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin" % name)
        return self.storage(name)

    def stop(self, kill=False):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            self.proc.wait(timeout=60)
        self.proc = None
        if self.log:
            self.log.close()
            self.log = None

    def kill(self):
        """SIGKILL, as a crash: InnoDB recovers from its redo log at the next start."""
        self.stop(kill=True)

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class KafkaMock:
    """librdkafka's mock cluster (tests/servers/kafka_mock.c): three brokers
    on loopback in one process. kill() takes them down, start() brings them
    back at the same addresses."""

    BIN = os.environ.get("CHATD_KAFKA_MOCK", "build/tests/servers/kafka_mock")

    def __init__(self):
        self.proc = None
        self.bootstrap = None

    def _reply(self):
        line = self.proc.stdout.readline().strip()
        if not line:
            raise AssertionError("kafka_mock exited")
        return line

    def start(self):
        if self.proc is None:
            self.proc = subprocess.Popen([self.BIN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.bootstrap = self._reply()
        else:
            self.proc.stdin.write("up\n")
            self.proc.stdin.flush()
            self._reply()
        return self

    def kill(self):
        self.proc.stdin.write("down\n")
        self.proc.stdin.flush()
        self._reply()

    def cleanup(self):
        if self.proc:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc.stdout.close()
            self.proc = None
