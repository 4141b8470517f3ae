import type { IStompSocket } from "@stomp/stompjs";

/** A WebSocket constructor: the browser's, React Native's, or the `ws` package's. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[], ...rest: any[]) => any;

export const STOMP_SUBPROTOCOLS = ["v12.stomp", "v11.stomp", "v10.stomp"];

/** The factory stompjs opens its sockets with: the one given, else a
 * factory over the given constructor, the platform's WebSocket, or the `ws`
 * package when it is installed (Node before 22). */
export async function resolveSocketFactory(
  url: string,
  given: (() => IStompSocket) | undefined,
  ctor: WebSocketConstructor | undefined,
): Promise<() => IStompSocket> {
  if (given) return given;
  let C = ctor ?? (globalThis as any).WebSocket;
  if (!C) {
    // Only Node gets here. The import is made at run time so that no
    // bundler (webpack, Vite, React Native's Metro) tries to resolve `ws`.
    const load = new Function("m", "return import(m)") as (m: string) => Promise<any>;
    try {
      const mod: any = await load("ws");
      C = mod.WebSocket ?? mod.default;
    } catch {
      throw new Error("no WebSocket here: pass `WebSocket` (e.g. the `ws` package) or `webSocketFactory`");
    }
  }
  return () => new C(url, STOMP_SUBPROTOCOLS) as IStompSocket;
}
