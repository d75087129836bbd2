import { LoginThrottle, SlidingCounter, THROTTLE } from './login-throttle';

describe('SlidingCounter', () => {
  it('blocks after `limit` failures in the window until the oldest counted one leaves it', () => {
    const counter = new SlidingCounter(3, 1000);
    counter.fail('k', 0);
    counter.fail('k', 100);
    expect(counter.blockedFor('k', 200)).toBe(0);
    counter.fail('k', 200);
    expect(counter.blockedFor('k', 300)).toBe(700);
    expect(counter.blockedFor('k', 1000)).toBe(0);
    expect(counter.blockedFor('other', 300)).toBe(0);
  });

  it('forgets a key on reset', () => {
    const counter = new SlidingCounter(2, 1000);
    counter.fail('k', 0);
    counter.fail('k', 1);
    expect(counter.blockedFor('k', 2)).toBeGreaterThan(0);
    counter.reset('k');
    expect(counter.blockedFor('k', 2)).toBe(0);
  });
});

describe('LoginThrottle', () => {
  it('counts per user (5) and per address (20) in a 15-minute window', () => {
    expect(THROTTLE).toEqual({ windowMs: 15 * 60 * 1000, perUser: 5, perAddress: 20 });
    const throttle = new LoginThrottle();
    for (let i = 0; i < 4; i++) throttle.failed('alice', '10.0.0.1');
    expect(throttle.retryAfter('alice', '10.0.0.1')).toBe(0);
    throttle.failed('alice', '10.0.0.1');
    expect(throttle.retryAfter('alice', '10.0.0.2')).toBeGreaterThan(0);
    expect(throttle.retryAfter('alice', '10.0.0.2')).toBeLessThanOrEqual(900);
    throttle.succeeded('alice');
    expect(throttle.retryAfter('alice', '10.0.0.2')).toBe(0);
    for (let i = 0; i < 15; i++) throttle.failed(`user${i}`, '10.0.0.1');
    expect(throttle.retryAfter('bob', '10.0.0.1')).toBeGreaterThan(0);
    expect(throttle.retryAfter('bob', '10.0.0.3')).toBe(0);
  });
});
