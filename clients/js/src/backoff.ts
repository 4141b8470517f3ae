// How long to wait before the next connection attempt: exponential
// back-off with jitter, so that clients cut off together (a restart, a
// network blip) do not all come back in the same instant.

/**
 * The wait before reconnection attempt `attempt` (1 for the first after a
 * drop): `base` doubled per failed attempt up to `max`, then a random point
 * in its upper half (from half that wait to all of it). `random` returns a
 * number in [0, 1), like Math.random.
 */
export function backoffDelay(attempt: number, base: number, max: number, random: () => number = Math.random): number {
  if (base <= 0) return 0;
  const n = Math.max(1, Math.floor(attempt));
  const ceiling = Math.max(base, Math.min(max, base * 2 ** Math.min(n - 1, 30)));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}
