import { callKie } from '../../src/pool/kieCall';
import type { AccountLimiter } from '../../src/pool/limiter/accountLimiter';
import { loadConfig } from '../../src/shared/config';
import { TransientKieError } from '../../src/shared/errors';
import { createLogger } from '../../src/shared/logger';

// Every turn is granted at once: the pacing is not what these tests are about.
const limiter = {
  waitForRequestTurn: async () => undefined,
  fenceSend: async () => 0,
  widenMargin: async () => 0,
  baseMarginMs: 50,
} as unknown as AccountLimiter;
const config = loadConfig({ KIE_API_KEY: 'k', KIE_RETRY_BASE_MS: '1', KIE_RETRIES: '3' });
const logger = createLogger('silent');

/** A request KIE answers 429 with Retry-After until `okAfter` attempts have failed. */
function rateLimited(retryAfterMs: number, okAfter = Infinity) {
  const sentAt: number[] = [];
  const request = async (): Promise<string> => {
    sentAt.push(Date.now());
    if (sentAt.length > okAfter) return 'ok';
    throw new TransientKieError('KIE 429 rate limited', 429, 429, retryAfterMs);
  };
  return { request, sentAt };
}

describe('callKie honours Retry-After, and shutdown ends the wait', () => {
  it('waits what KIE asked before the next attempt', async () => {
    const { request, sentAt } = rateLimited(300, 1);
    await expect(callKie(limiter, config, 'default', 'poll', request, { retryAmbiguous: true, logger })).resolves.toBe('ok');
    expect(sentAt).toHaveLength(2);
    expect(sentAt[1]! - sentAt[0]!).toBeGreaterThanOrEqual(290);
  });

  it('a Retry-After of 30 s ends as soon as the worker shuts down, with no further attempt', async () => {
    const { request, sentAt } = rateLimited(30_000);
    const shutdown = new AbortController();
    const started = Date.now();
    setTimeout(() => shutdown.abort(new Error('worker shutting down')), 100);
    await expect(callKie(limiter, config, 'default', 'poll', request, { retryAmbiguous: true, signal: shutdown.signal, logger })).rejects.toThrow(
      'worker shutting down',
    );
    expect(Date.now() - started).toBeLessThan(2000);
    expect(sentAt).toHaveLength(1);
  });

  it('no wait after the last attempt: the failure comes back at once', async () => {
    const { request, sentAt } = rateLimited(30_000);
    const once = loadConfig({ KIE_API_KEY: 'k', KIE_RETRIES: '0' });
    const started = Date.now();
    await expect(callKie(limiter, once, 'default', 'poll', request, { retryAmbiguous: true, logger })).rejects.toThrow('KIE 429');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(sentAt).toHaveLength(1);
  });
});
