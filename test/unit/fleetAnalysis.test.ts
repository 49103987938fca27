import { idealMakespanMs, refillDelays } from '../../bench/fleetAnalysis';

describe('idealMakespanMs (the fleet benchmark’s replay bound)', () => {
  it('refills a slot the moment it frees', () => {
    expect(idealMakespanMs([100, 100, 100], 2, 10)).toBe(200);
  });
  it('spaces submits one interval apart when slots are free', () => {
    expect(idealMakespanMs([0, 0, 0], 10, 10)).toBe(20);
    expect(idealMakespanMs([50, 50, 50], 10, 10)).toBe(70);
  });
  it('counts the long task of the last wave that a mean-based bound ignores', () => {
    // Mean generation 50 ms, 4 tasks on 2 slots: a mean-based bound says 100 ms; the 90 ms task,
    // started at 50 when the second slot frees, ends at 140.
    expect(idealMakespanMs([10, 50, 50, 90], 2, 0)).toBe(140);
  });
  it('submits as many at once as a create budget allows, the next when the first leaves its window', () => {
    // 2 per 100 ms, no interval: 0, 0, 100, 100, 200.
    expect(idealMakespanMs([5, 5, 5, 5, 5], 10, 0, [{ limit: 2, windowMs: 100 }])).toBe(205);
    expect(idealMakespanMs([5, 5, 5], 10, 30, [{ limit: 2, windowMs: 100 }])).toBe(105);
  });
});

describe('refillDelays', () => {
  it('pairs the k-th completion with the submit that took its slot', () => {
    const tasks = [{ createdAt: 0, completedAt: 100 }, { createdAt: 10, completedAt: 300 }, { createdAt: 150 }, { createdAt: 320 }];
    expect(refillDelays(tasks, 2)).toEqual({ count: 2, meanMs: 35, p90Ms: 50 });
  });
});
