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
    return this.answer<T>(method, path, await this.send(method, path, body));
  }

  /** POST raw bytes (a file upload): the JSON answer. */
  async upload<T>(path: string, data: Blob, contentType: string): Promise<T> {
    return this.answer<T>("POST", path, await this.send("POST", path, data, contentType));
  }

  /** GET bytes (a file, a transcript) as a Blob. */
  async blob(path: string): Promise<Blob> {
    const res = await this.send("GET", path);
    if (!res.ok) await this.answer("GET", path, res);
    return res.blob();
  }

  private async send(method: string, path: string, body?: unknown, raw?: string): Promise<Response> {
    let res = await this.once(method, path, body, raw);
    if (res.status === 401 && (await this.auth.renew())) res = await this.once(method, path, body, raw);
    return res;
  }

  private async answer<T>(method: string, path: string, res: Response): Promise<T> {
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

  private async once(method: string, path: string, body?: unknown, raw?: string): Promise<Response> {
    const headers: Record<string, string> = { Authorization: await this.auth.header() };
    if (raw !== undefined) headers["Content-Type"] = raw;
    else if (body !== undefined) headers["Content-Type"] = "application/json";
    return this.fetchFn(/^https?:/.test(path) ? path : this.base + path, {
      method,
      headers,
      body: body === undefined ? undefined : raw !== undefined ? (body as BodyInit) : JSON.stringify(body),
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
