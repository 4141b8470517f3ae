import { ChatdError } from "./errors.js";

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** How a request is authorised: the current `Authorization` value, and a way
 * to get a fresh one after a 401 (null: none). */
export interface RestAuth {
  header(): Promise<string>;
  renew(): Promise<boolean>;
}

export class RestApi {
  constructor(private readonly base: string, private readonly auth: RestAuth, private readonly fetchFn: FetchLike) {}

  async request<T>(method: string, path: string, body?: unknown): Promise<T> {
    let res = await this.once(method, path, body);
    if (res.status === 401 && (await this.auth.renew())) res = await this.once(method, path, body);
    const text = await res.text();
    let data: any = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
    if (!res.ok) {
      const code = (data && typeof data.error === "string" && data.error) || "http_" + res.status;
      const message = (data && typeof data.message === "string" && data.message) || res.statusText || code;
      throw new ChatdError(`${method} ${path}: ${message}`, res.status, code, message);
    }
    return data as T;
  }

  private async once(method: string, path: string, body?: unknown): Promise<Response> {
    const headers: Record<string, string> = { Authorization: await this.auth.header() };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    return this.fetchFn(this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  }
}

/** `Basic base64(user:password)` over the UTF-8 bytes. */
export function basicAuth(login: string, passcode: string): string {
  const bytes = new TextEncoder().encode(login + ":" + passcode);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return "Basic " + btoa(bin);
}
