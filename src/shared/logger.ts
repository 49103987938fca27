import pino, { Logger } from 'pino';

export type { Logger };

/** Paths that may hold a secret in anything we log; pino replaces their values. */
const REDACT = [
  'apiKey',
  '*.apiKey',
  'accounts[*].apiKey',
  '*.accounts[*].apiKey',
  'authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers.Authorization',
  '*.headers.Authorization',
  'secret',
  '*.secret',
  'token',
  '*.token',
];

/** pino-pretty is a development dependency: a production install (npm ci --omit=dev) has none. */
function prettyPrinterInstalled(): boolean {
  try {
    require.resolve('pino-pretty');
    return true;
  } catch {
    return false;
  }
}

/**
 * JSON lines by default (for log shippers), human-readable when a person watches a terminal and
 * pino-pretty is installed.
 */
export function createLogger(level: string, name = 'sora-batch', destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = { name, level, redact: { paths: REDACT, censor: '***' } };
  if (destination) return pino(options, destination);
  if (process.stdout.isTTY && !process.env.CI && prettyPrinterInstalled()) {
    return pino({ ...options, transport: { target: 'pino-pretty', options: { colorize: true } } });
  }
  return pino(options);
}
