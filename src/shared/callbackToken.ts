import { createHmac, timingSafeEqual } from 'node:crypto';

/**
 * The per-job token in a KIE callBackUrl: an HMAC of queue and job id under WEBHOOK_SECRET, so a
 * callback can only be made for a job by someone who was given its URL.
 */
export function callbackToken(secret: string, queueName: string, jobId: string): string {
  return createHmac('sha256', secret).update(`${queueName}\n${jobId}`).digest('base64url');
}

export function isValidCallbackToken(secret: string, queueName: string, jobId: string, token: string): boolean {
  const expected = Buffer.from(callbackToken(secret, queueName, jobId));
  const given = Buffer.from(token);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export function callbackUrl(baseUrl: string, secret: string, queueName: string, jobId: string): string {
  const token = callbackToken(secret, queueName, jobId);
  return `${baseUrl}/kie/callback/${encodeURIComponent(queueName)}/${encodeURIComponent(jobId)}?token=${token}`;
}
