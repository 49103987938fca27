import * as storeVideoModule from '../../src/worker/storage/storeVideo';
import type { RenderStack } from './renderStack';

/**
 * Makes every link KIE handed out dead just before each object's first download (the link dies
 * between the status check that gave it and the download), so the worker must refresh it.
 * Returns the number of store attempts per key. Restore with jest.restoreAllMocks().
 */
export function expireLinksBeforeFirstDownload(stack: RenderStack): Map<string, number> {
  const store = storeVideoModule.storeVideo;
  const calls = new Map<string, number>();
  jest.spyOn(storeVideoModule, 'storeVideo').mockImplementation((input) => {
    calls.set(input.key, (calls.get(input.key) ?? 0) + 1);
    if (calls.get(input.key) === 1) stack.sim.expireLinks();
    return store(input);
  });
  return calls;
}
