import { RetryingRounds } from './retrying-rounds';

describe('RetryingRounds', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs at once, then again with a doubling wait capped at the longest, until a round is done', async () => {
    const answers: ('again' | 'done' | Error)[] = ['again', new Error('database away'), 'again', 'again', 'done'];
    const startedAt: number[] = [];
    const errors: [string, number][] = [];
    const rounds = new RetryingRounds(
      async () => {
        startedAt.push(Date.now());
        const answer = answers.shift()!;
        if (answer instanceof Error) throw answer;
        return answer;
      },
      { firstMs: 100, longestMs: 300, onError: (error, waitMs) => errors.push([(error as Error).message, waitMs]) },
    );
    const t0 = Date.now();
    rounds.start();
    await jest.advanceTimersByTimeAsync(10_000);
    expect(startedAt.map((at) => at - t0)).toEqual([0, 100, 300, 600, 900]);
    expect(errors).toEqual([['database away', 200]]);
    expect(jest.getTimerCount()).toBe(0);
  });

  it('waits before the first round when asked (the caller made the first attempt)', async () => {
    const startedAt: number[] = [];
    const rounds = new RetryingRounds(
      async () => {
        startedAt.push(Date.now());
        return startedAt.length < 3 ? 'again' : 'done';
      },
      { firstMs: 100, longestMs: 1_000, onError: () => undefined },
    );
    const t0 = Date.now();
    rounds.start({ waitFirst: true });
    await jest.advanceTimersByTimeAsync(10_000);
    expect(startedAt.map((at) => at - t0)).toEqual([100, 300, 700]);
  });

  it('stops: no round after stop(), and stop() waits for the one in progress', async () => {
    let finish!: () => void;
    let rounds = 0;
    const retrying = new RetryingRounds(
      () => {
        rounds += 1;
        return new Promise((resolve) => (finish = () => resolve('again')));
      },
      { firstMs: 50, longestMs: 50, onError: () => undefined },
    );
    retrying.start();
    await jest.advanceTimersByTimeAsync(0);
    expect(rounds).toBe(1);
    let stopped = false;
    const stopping = retrying.stop().then(() => (stopped = true));
    await jest.advanceTimersByTimeAsync(0);
    expect(stopped).toBe(false);
    expect(retrying.isStopped).toBe(true);
    finish();
    await stopping;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(rounds).toBe(1);
  });
});
