// When to reconnect: exponential backoff with jitter.

export const DEFAULT_RECONNECT = Object.freeze({ initialDelayMs: 250, maxDelayMs: 10_000, factor: 2, jitter: 0.5 });

/**
 * Delay before reconnect attempt number `attempt` (0 = first retry): exponential growth capped at
 * maxDelayMs, then `jitter` of it taken away at random (1 = full jitter, 0 = none), so that
 * thousands of browsers dropped by one server restart do not come back in lockstep.
 */
export function backoffDelay(attempt, reconnect = {}, random = Math.random) {
  const { initialDelayMs, maxDelayMs, factor, jitter } = { ...DEFAULT_RECONNECT, ...reconnect };
  const base = Math.min(maxDelayMs, initialDelayMs * Math.pow(factor, attempt));
  const spread = Math.min(1, Math.max(0, jitter));
  return Math.max(0, Math.round(base * (1 - spread * random())));
}
