/**
 * Failed-login counters, kept in this process's memory (a shared store comes later;
 * with several replicas each one counts on its own). A sliding window: after `limit`
 * failures within `windowMs`, attempts are refused until the oldest counted failure
 * leaves the window.
 */
export class SlidingCounter {
  private readonly failures = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
  ) {}

  /** Milliseconds until `key` may try again, or 0 when it may now. */
  blockedFor(key: string, now = Date.now()): number {
    const recent = this.recent(key, now);
    if (recent.length < this.limit) return 0;
    return recent[recent.length - this.limit] + this.windowMs - now;
  }

  fail(key: string, now = Date.now()): void {
    const recent = this.recent(key, now);
    recent.push(now);
    // No more than needed to decide.
    this.failures.set(key, recent.slice(-this.limit));
    if (this.failures.size > 100_000) this.sweep(now);
  }

  reset(key: string): void {
    this.failures.delete(key);
  }

  private recent(key: string, now: number): number[] {
    return (this.failures.get(key) ?? []).filter((at) => at > now - this.windowMs);
  }

  private sweep(now: number): void {
    for (const [key, times] of this.failures) {
      if (!times.some((at) => at > now - this.windowMs)) this.failures.delete(key);
    }
  }
}

export const THROTTLE = { windowMs: 15 * 60 * 1000, perUser: 5, perAddress: 20 } as const;

export class LoginThrottle {
  readonly users = new SlidingCounter(THROTTLE.perUser, THROTTLE.windowMs);
  readonly addresses = new SlidingCounter(THROTTLE.perAddress, THROTTLE.windowMs);

  /** Seconds to wait (Retry-After), or 0. */
  retryAfter(username: string, address: string): number {
    const ms = Math.max(this.users.blockedFor(username), this.addresses.blockedFor(address));
    return ms > 0 ? Math.ceil(ms / 1000) : 0;
  }

  failed(username: string, address: string): void {
    this.users.fail(username);
    this.addresses.fail(address);
  }

  succeeded(username: string): void {
    this.users.reset(username);
  }
}
