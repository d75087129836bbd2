import { DecisionCache } from '../src/remote/decision-cache';

describe('DecisionCache', () => {
  let now = 0;
  const clock = () => now;

  beforeEach(() => {
    now = 1_000_000;
  });

  function counting(value = 'answer') {
    const load = jest.fn(async () => value);
    return load;
  }

  it('reuses an answer until its time is up, then asks again', async () => {
    const cache = new DecisionCache<string>(10_000, 100, clock);
    const load = counting();
    expect(await cache.get('k', load)).toBe('answer');
    now += 9_999;
    expect(await cache.get('k', load)).toBe('answer');
    expect(load).toHaveBeenCalledTimes(1);
    now += 1;
    await cache.get('k', load);
    expect(load).toHaveBeenCalledTimes(2);
  });

  it('keeps answers apart by key', async () => {
    const cache = new DecisionCache<string>(10_000, 100, clock);
    expect(await cache.get('a', counting('first'))).toBe('first');
    expect(await cache.get('b', counting('second'))).toBe('second');
    expect(await cache.get('a', counting('other'))).toBe('first');
  });

  it('keeps nothing with a time of 0', async () => {
    const cache = new DecisionCache<string>(0, 100, clock);
    const load = counting();
    await cache.get('k', load);
    await cache.get('k', load);
    expect(load).toHaveBeenCalledTimes(2);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxEntries, dropping the oldest first', async () => {
    const cache = new DecisionCache<string>(10_000, 3, clock);
    for (const key of ['a', 'b', 'c', 'd']) await cache.get(key, counting(key));
    expect(cache.size).toBe(3);
    const reloaded = counting('a again');
    expect(await cache.get('a', reloaded)).toBe('a again');
    expect(reloaded).toHaveBeenCalledTimes(1);
    const kept = counting('not asked');
    expect(await cache.get('d', kept)).toBe('d');
    expect(kept).not.toHaveBeenCalled();
  });

  it('makes one call for concurrent asks of one key', async () => {
    const cache = new DecisionCache<string>(10_000, 100, clock);
    let release!: (value: string) => void;
    const load = jest.fn(() => new Promise<string>((resolve) => (release = resolve)));
    const asks = [cache.get('k', load), cache.get('k', load), cache.get('k', load)];
    release('shared');
    expect(await Promise.all(asks)).toEqual(['shared', 'shared', 'shared']);
    expect(load).toHaveBeenCalledTimes(1);
  });

  it('does not keep a failure: the next ask calls again', async () => {
    const cache = new DecisionCache<string>(10_000, 100, clock);
    await expect(cache.get('k', () => Promise.reject(new Error('crew is down')))).rejects.toThrow('crew is down');
    expect(await cache.get('k', counting('recovered'))).toBe('recovered');
  });
});
