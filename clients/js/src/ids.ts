let counter = 0;

/** A client-id for a SEND: random, so that it is unique across tabs and restarts. */
export function newClientId(): string {
  const c = (globalThis as any).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  return Date.now().toString(36) + "-" + (++counter).toString(36) + "-" + Math.random().toString(36).slice(2);
}
