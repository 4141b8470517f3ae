// @stomp/stompjs over wss:// with a client certificate that names its user
// ([server] tls_client_user = cn): the certificate alone signs in, a login
// of another user beside it is refused. The CA and certificates are made
// here with the openssl command.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { Client } from "@stomp/stompjs";
import WebSocket from "ws";

import { freePort, startChatd, waitFor } from "./harness.mjs";

const KOREAN = "김민수";
let dir, server, tlsPort;

const file = (name) => path.join(dir, name);
const openssl = (...args) => execFileSync("openssl", args, { cwd: dir, stdio: "ignore" });

function issue(name, subject, ext) {
  writeFileSync(file(name + ".ext"), ext);
  openssl("req", "-utf8", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", subject,
          "-keyout", name + ".key", "-out", name + ".csr");
  openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
          "-days", "2", "-extfile", name + ".ext", "-out", name + ".pem");
}

function portOpen(port) {
  return new Promise((resolve) => {
    const c = net.connect(port, "127.0.0.1");
    c.on("connect", () => { c.destroy(); resolve(true); });
    c.on("error", () => resolve(false));
  });
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), "chatd-mtls-"));
  openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
          "-subj", "/CN=test-ca", "-keyout", "ca.key", "-out", "ca.pem");
  issue("server", "/CN=localhost", "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n");
  issue("kim", "/CN=" + KOREAN, "extendedKeyUsage=clientAuth\n");
  tlsPort = await freePort();
  server = await startChatd({
    server: [`tls_listen = 127.0.0.1:${tlsPort}`, `tls_cert = ${file("server.pem")}`, `tls_key = ${file("server.key")}`,
             `tls_ca = ${file("ca.pem")}`, "tls_client_certs = required", "tls_client_user = cn"],
    origins: [`https://127.0.0.1:${tlsPort}`],
    auth: ["plugin = static", `user.${KOREAN}.cert = yes`, `user.${KOREAN}.name = 김민수 🌸`, "user.bob.cert = yes"],
  });
  await waitFor(() => portOpen(tlsPort), "the TLS listener");
});

after(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

function client(connectHeaders) {
  return new Client({
    webSocketFactory: () => new WebSocket(`wss://127.0.0.1:${tlsPort}/ws`, ["v12.stomp"], {
      origin: `https://127.0.0.1:${tlsPort}`, servername: "localhost",
      ca: readFileSync(file("ca.pem")), cert: readFileSync(file("kim.pem")), key: readFileSync(file("kim.key")),
    }),
    connectHeaders,
    reconnectDelay: 0,
    heartbeatIncoming: 0,
    heartbeatOutgoing: 0,
  });
}

function connect(c) {
  return new Promise((resolve, reject) => {
    c.onConnect = resolve;
    c.onStompError = (f) => reject(new Error(f.headers.message));
    c.activate();
  });
}

test("the certificate alone signs in, under a Korean commonName", async () => {
  const c = client({});
  const connected = await connect(c);
  try {
    assert.equal(connected.headers["user-name"], KOREAN);
    const got = new Promise((resolve) => c.subscribe("/queue/메모", resolve));
    const stored = new Promise((resolve) => c.watchForReceipt("m1", resolve));
    c.publish({ destination: "/queue/메모", body: "인증서 로그인 🔐✨", headers: { receipt: "m1" } });
    await stored;
    assert.equal((await got).body, "인증서 로그인 🔐✨");
  } finally {
    await c.deactivate();
  }
});

test("a login of another user beside the certificate is refused", async () => {
  const c = client({ login: "bob" });
  await assert.rejects(connect(c), { message: "the credentials name another user than the client certificate" });
  await c.deactivate();
});
