// chatd for these tests, started by the conformance tests' harness
// (tests/conformance/harness.mjs). Outside ctest, the paths default to the
// repository's build/.
import path from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
process.env.CHATD_BIN ??= path.join(root, "build/core/chatd");
process.env.CHATD_PLUGIN_DIR ??= path.join(root, "build/plugins");
process.env.CHATD_SOURCE_DIR ??= root;

const harness = await import(path.join(root, "tests/conformance/harness.mjs"));
export const { startChatd, waitFor, passwordOf } = harness;

/** A webSocketFactory whose sockets a test can cut (terminate: no close
 * handshake, as when a network drops) and keep from coming back. */
export function cuttableSockets(server) {
  const s = {
    sockets: [],
    offline: false,
    factory: () => {
      // While offline, a port nothing listens on: the attempt fails at once.
      const url = s.offline ? "ws://127.0.0.1:1/ws" : `ws://127.0.0.1:${server.http}/ws`;
      const ws = new WebSocket(url, ["v12.stomp", "v11.stomp", "v10.stomp"]);
      ws.on("error", () => {});
      s.sockets.push(ws);
      return ws;
    },
    cut() {
      for (const ws of s.sockets) ws.terminate();
    },
  };
  return s;
}

/** Resolves with the next `event` of a ChatClient. */
export function next(client, event) {
  return new Promise((resolve) => {
    const off = client.on(event, (e) => { off(); resolve(e); });
  });
}
