import { createHash } from 'node:crypto';
import type { RenderResult } from '../../src/shared/renderJob';
import type { RenderStack } from './renderStack';

const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

/**
 * Every job completed, its object byte for byte what KIE served (size, SHA-256 in the bytes, the
 * metadata and the result), from one submit. Returns the results in the order of `jobIds`.
 */
export async function expectStoredAsServed(s: RenderStack, jobIds: readonly string[], timeoutMs?: number): Promise<RenderResult[]> {
  const states = await s.waitForJobs(jobIds, timeoutMs);
  expect([...states.values()]).toEqual(jobIds.map(() => 'completed'));
  return Promise.all(
    jobIds.map(async (jobId) => {
      const job = (await s.queue.getJob(jobId))!;
      const result = job.returnvalue;
      const expected = s.sim.expectedVideo(result.taskId);
      const { body, metadata } = await s.readObject(result.key);
      expect({ size: body.length, sha256: sha256(body) }).toEqual(expected);
      expect(metadata.sha256).toBe(expected.sha256);
      expect(result).toMatchObject(expected);
      expect(job.data.render).toMatchObject({ taskId: result.taskId, submits: 1 });
      return result;
    }),
  );
}
