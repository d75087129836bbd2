import { parseCpu, parseDuration, parseMemory, QuantitySyntaxError } from './durations';

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['10m', 600_000],
    ['2h', 7_200_000],
    ['14d', 1_209_600_000],
    ['1h30m', 5_400_000],
    ['1m30s500ms', 90_500],
    ['1.5h', 5_400_000],
    ['0s', 0],
  ])('reads %s as %d ms', (text, ms) => expect(parseDuration(text)).toBe(ms));

  it('reads numbers as seconds', () => {
    expect(parseDuration(30)).toBe(30_000);
    expect(parseDuration(0.25)).toBe(250);
    expect(parseDuration(0)).toBe(0);
  });

  it.each(['', '30', '1x', '30 s', '-5s', '30m1h', '1h1h', 'ms', '1.s', 's30', '10M', '1h 30m'])('rejects %j', (text) => {
    expect(() => parseDuration(text)).toThrow(QuantitySyntaxError);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY, 1e300])('rejects the number %d', (value) => {
    expect(() => parseDuration(value)).toThrow(/not a valid duration/);
  });

  it('says what is wrong', () => {
    expect(() => parseDuration('30m1h')).toThrow(
      '"30m1h" is not a valid duration: write a number with units from largest to smallest, such as 30s, 10m, 1h30m or 500ms',
    );
  });
});

describe('parseCpu', () => {
  it.each([
    ['500m', 0.5],
    ['2', 2],
    ['0.25', 0.25],
    [1.5, 1.5],
  ])('reads %j as %d cores', (value, cores) => expect(parseCpu(value)).toBe(cores));

  it.each(['', '0', '0m', '1.5m', '2 cores', '-1', 'm'])('rejects %j', (value) => {
    expect(() => parseCpu(value)).toThrow(QuantitySyntaxError);
  });

  it.each([0, -1, Number.NaN])('rejects the number %d', (value) => expect(() => parseCpu(value)).toThrow(/greater than zero/));
});

describe('parseMemory', () => {
  it.each([
    ['64Mi', 64 * 1024 * 1024],
    ['1Gi', 1024 ** 3],
    ['512M', 512_000_000],
    ['1k', 1000],
    ['1K', 1000],
    ['1.5Ki', 1536],
    ['1024', 1024],
    [268435456, 268435456],
  ])('reads %j as %d bytes', (value, bytes) => expect(parseMemory(value)).toBe(bytes));

  it('rounds fractions of a unit up to whole bytes', () => expect(parseMemory('0.0001K')).toBe(1));

  it.each(['', '1Gb', '1 Gi', '1MiB', 'Gi', '-1Mi', '0', '0Mi', '100000Ei'])('rejects %j', (value) => {
    expect(() => parseMemory(value)).toThrow(QuantitySyntaxError);
  });

  it.each([1.5, 0, -1])('rejects the number %d', (value) => expect(() => parseMemory(value)).toThrow(QuantitySyntaxError));
});
