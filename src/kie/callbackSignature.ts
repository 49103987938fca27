/**
 * KIE's optional signed callbacks (jobs API): `X-Webhook-Signature` is the base64 HMAC-SHA256 of
 * `taskId + "." + timestamp` under the account's webhook HMAC key, `X-Webhook-Timestamp` is unix
 * seconds. The timestamp window stops an old, captured callback from being replayed.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

const DEFAULT_TOLERANCE_MS = 5 * 60_000;

export interface KieCallbackSignatureCheck {
  hmacKey: string;
  taskId: string;
  /** The X-Webhook-Timestamp header: unix seconds. */
  timestamp: string | undefined;
  /** The X-Webhook-Signature header: base64. */
  signature: string | undefined;
  /** How far the timestamp may be from now, either way (default 5 minutes). */
  toleranceMs?: number;
  nowMs?: number;
}

/** True only for a signature made with hmacKey for this taskId at a timestamp within tolerance. */
export function verifyKieCallbackSignature(check: KieCallbackSignatureCheck): boolean {
  const { hmacKey, taskId, timestamp, signature, toleranceMs = DEFAULT_TOLERANCE_MS, nowMs = Date.now() } = check;
  if (hmacKey === '') throw new RangeError('hmacKey must not be empty: every callback would verify against a public key');
  if (timestamp === undefined || signature === undefined || !/^\d{1,12}$/.test(timestamp)) return false;
  if (Math.abs(nowMs - Number(timestamp) * 1000) > toleranceMs) return false;
  const expected = createHmac('sha256', hmacKey).update(`${taskId}.${timestamp}`).digest();
  const given = Buffer.from(signature, 'base64');
  return given.length === expected.length && timingSafeEqual(given, expected);
}
