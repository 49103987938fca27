/** Readers for KIE's `{ code, message|msg, data }` envelope, shared by both dialects. */
import { UnexpectedResponseError } from '../shared/errors';

export const str = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);
export const isObject = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

/** The envelope's `data`, whatever it is. */
export function envelopeData(body: unknown): unknown {
  return isObject(body) ? body.data : undefined;
}

/** The envelope's `data` when it must be an object. */
export function envelopeObject(body: unknown): Record<string, unknown> {
  const data = envelopeData(body);
  if (!isObject(data)) throw new UnexpectedResponseError('KIE answer has no data object');
  return data;
}
