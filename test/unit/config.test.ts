import { describeConfig, loadConfig } from '../../src/shared/config';
import { ConfigError } from '../../src/shared/errors';

function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('configuration from the environment', () => {
  it('has safe defaults for everything but the KIE key', () => {
    const c = loadConfig({ KIE_API_KEY: 'k-123' });
    expect(c.queueName).toBe('sora-renders');
    expect(c.kie).toMatchObject({ apiStyle: 'sora', minIntervalMs: 1000, dailyWindowMs: 86_400_000, dailyWindow: 'rolling' });
    expect(c.kie.accounts).toEqual([{ name: 'default', apiKey: 'k-123', maxConcurrent: 10, dailyLimit: 100 }]);
    expect(c.kie.intervalMarginMs).toBe(50);
    expect(c.videoHosts).toContain('api.kie.ai');
    expect(Object.isFrozen(c.kie.accounts[0])).toBe(true);
  });

  it('reads an account pool with per-account caps', () => {
    const c = loadConfig({ KIE_ACCOUNTS: 'a:key-a, b:key-b', KIE_ACCOUNT_LIMITS: 'b=5/50', KIE_MAX_CONCURRENT: '8' });
    expect(c.kie.accounts).toEqual([
      { name: 'a', apiKey: 'key-a', maxConcurrent: 8, dailyLimit: 100 },
      { name: 'b', apiKey: 'key-b', maxConcurrent: 5, dailyLimit: 50 },
    ]);
  });

  it('lists every bad variable in one message', () => {
    const err = configError({ KIE_MAX_CONCURRENT: 'ten', KIE_API_STYLE: 'rest', REDIS_URL: 'http://x', S3_FORCE_PATH_STYLE: 'maybe' });
    expect(err.issues.map((i) => i.field).sort()).toEqual(['KIE_API_KEY', 'KIE_API_STYLE', 'KIE_MAX_CONCURRENT', 'REDIS_URL', 'S3_FORCE_PATH_STYLE']);
    expect(err.message).toContain('KIE_MAX_CONCURRENT="ten": must be a whole number from 1 to 10000');
    expect(err.message).toContain('KIE_API_STYLE="rest": must be one of sora, jobs');
  });

  it('needs a long webhook secret when webhooks are on', () => {
    expect(configError({ KIE_API_KEY: 'k', WEBHOOK_BASE_URL: 'https://hooks.example.com', WEBHOOK_SECRET: 'short' }).issues[0]!.field).toBe('WEBHOOK_SECRET');
  });

  it('never shows a key in its errors or its description', () => {
    const err = configError({ KIE_ACCOUNTS: 'bad name:sk-very-secret' });
    expect(err.message).not.toContain('sk-very-secret');
    const c = loadConfig({
      KIE_ACCOUNTS: 'a:sk-very-secret',
      WEBHOOK_BASE_URL: 'https://h.example.com',
      WEBHOOK_SECRET: 'x'.repeat(20),
      REDIS_URL: 'redis://user:redis-pass@redis.internal:6379/0',
    });
    const described = JSON.stringify(describeConfig(c));
    expect(described).not.toMatch(/sk-very-secret|xxxxxxxxxxxxxxxxxxxx|redis-pass/);
    expect(described).toContain('redis://user:***@redis.internal:6379/0');
  });

  it('KIE_TASK_TIMEOUT_MS: 30 minutes unless set, at least 1000', () => {
    expect(loadConfig({ KIE_API_KEY: 'k' }).kie.taskTimeoutMs).toBe(1_800_000);
    expect(loadConfig({ KIE_API_KEY: 'k', KIE_TASK_TIMEOUT_MS: '900000' }).kie.taskTimeoutMs).toBe(900_000);
    expect(configError({ KIE_API_KEY: 'k', KIE_TASK_TIMEOUT_MS: '10m' }).message).toContain('KIE_TASK_TIMEOUT_MS="10m": must be a whole number from 1000 to');
    expect(configError({ KIE_API_KEY: 'k', KIE_TASK_TIMEOUT_MS: '0' }).issues.map((i) => i.field)).toEqual(['KIE_TASK_TIMEOUT_MS']);
  });

  it('takes a Standard Webhooks signing secret, with or without whsec_, and never shows it', () => {
    const key = Buffer.alloc(32, 7).toString('base64');
    expect(loadConfig({ KIE_API_KEY: 'k', NOTIFY_SECRET: `whsec_${key}` }).notify.secret).toBe(`whsec_${key}`);
    expect(loadConfig({ KIE_API_KEY: 'k', NOTIFY_SECRET: key }).notify.secret).toBe(key);
    expect(JSON.stringify(describeConfig(loadConfig({ KIE_API_KEY: 'k', NOTIFY_SECRET: `whsec_${key}` })))).not.toContain(key);
    for (const bad of ['my-plain-password-1234567890', `whsec_${Buffer.alloc(16).toString('base64')}`, `whsec_${Buffer.alloc(65).toString('base64')}`]) {
      const err = configError({ KIE_API_KEY: 'k', NOTIFY_SECRET: bad });
      expect(err.issues).toEqual([
        { field: 'NOTIFY_SECRET', value: '***', rule: expect.stringContaining('whsec_ followed by the base64 of 24 to 64 random bytes') },
      ]);
      expect(err.message).not.toContain(bad);
    }
  });

  it('refuses private notification destinations unless told otherwise, and bounds delivery settings', () => {
    expect(loadConfig({ KIE_API_KEY: 'k' }).notify).toEqual({ secret: undefined, allowPrivate: false, timeoutMs: 15_000, attempts: 24, retryBaseMs: 10_000 });
    expect(loadConfig({ KIE_API_KEY: 'k', NOTIFY_ALLOW_PRIVATE: 'true' }).notify.allowPrivate).toBe(true);
    const err = configError({ KIE_API_KEY: 'k', NOTIFY_ALLOW_PRIVATE: 'sometimes', NOTIFY_ATTEMPTS: '0', NOTIFY_TIMEOUT_MS: '10' });
    expect(err.issues.map((i) => i.field).sort()).toEqual(['NOTIFY_ALLOW_PRIVATE', 'NOTIFY_ATTEMPTS', 'NOTIFY_TIMEOUT_MS']);
  });

  it('schedules fire at least a minute apart unless SCHEDULE_MIN_INTERVAL_MS (1 s .. 1 day) says otherwise', () => {
    expect(loadConfig({ KIE_API_KEY: 'k' }).scheduleMinIntervalMs).toBe(60_000);
    expect(loadConfig({ KIE_API_KEY: 'k', SCHEDULE_MIN_INTERVAL_MS: '5000' }).scheduleMinIntervalMs).toBe(5000);
    expect(configError({ KIE_API_KEY: 'k', SCHEDULE_MIN_INTERVAL_MS: '500' }).message).toContain(
      'SCHEDULE_MIN_INTERVAL_MS="500": must be a whole number from 1000 to 86400000',
    );
  });

  it('an empty value is an error in the same list, except where empty means unset', () => {
    const err = configError({ KIE_API_KEY: 'k', S3_BUCKET: '', QUEUE_NAME: ' ', KIE_MAX_CONCURRENT: '', LOG_LEVEL: '', VIDEO_HOSTS: '' });
    expect(err.issues.map((i) => i.field).sort()).toEqual(['KIE_MAX_CONCURRENT', 'LOG_LEVEL', 'QUEUE_NAME', 'S3_BUCKET', 'VIDEO_HOSTS']);
    expect(err.message).toContain('S3_BUCKET="": is empty: give it a value, or unset it to use the default');

    // What docker-compose passes as ${VAR:-} for a feature left off, or the one of two account forms not used.
    const c = loadConfig({
      KIE_API_KEY: 'k',
      KIE_ACCOUNTS: '',
      WEBHOOK_BASE_URL: '',
      WEBHOOK_SECRET: '',
      S3_PREFIX: '',
      S3_ENDPOINT: '',
      API_TOKENS: '',
      KIE_WEBHOOK_HMAC_KEY: '',
      KIE_ACCOUNT_LIMITS: '',
      NOTIFY_SECRET: '',
      METRICS_TOKEN: '',
    });
    expect(c.webhook).toBeUndefined();
    expect([c.notify.secret, c.metricsToken]).toEqual([undefined, undefined]);
    expect(c.s3).toMatchObject({ prefix: '', endpoint: undefined, bucket: 'sora-renders' });
    expect(c.kie.accounts.map((a) => a.name)).toEqual(['default']);
  });

  it('REDIS_CONNECT_TIMEOUT_MS: 30 s by default, validated', () => {
    expect(loadConfig({ KIE_API_KEY: 'k' }).redisConnectTimeoutMs).toBe(30_000);
    expect(loadConfig({ KIE_API_KEY: 'k', REDIS_CONNECT_TIMEOUT_MS: '2500' }).redisConnectTimeoutMs).toBe(2500);
    expect(configError({ KIE_API_KEY: 'k', REDIS_CONNECT_TIMEOUT_MS: '5s' }).message).toContain(
      'REDIS_CONNECT_TIMEOUT_MS="5s": must be a whole number from 100',
    );
  });

  it('a long value is echoed cut, with its length', () => {
    const err = configError({ KIE_API_KEY: 'k', KIE_API_STYLE: 'x'.repeat(300) });
    expect(err.message).toContain(`KIE_API_STYLE="${'x'.repeat(58)}… (300 characters): must be one of sora, jobs`);
  });

  it('VIDEO_CHECK: warn unless strict; POSTERS: off unless true', () => {
    expect(loadConfig({ KIE_API_KEY: 'k' })).toMatchObject({ videoCheck: 'warn', posters: false });
    expect(loadConfig({ KIE_API_KEY: 'k', VIDEO_CHECK: 'strict', POSTERS: 'true' })).toMatchObject({ videoCheck: 'strict', posters: true });
    const err = configError({ KIE_API_KEY: 'k', VIDEO_CHECK: 'fail', POSTERS: 'sometimes' });
    expect(err.message).toContain('VIDEO_CHECK="fail": must be one of warn, strict');
    expect(err.message).toContain('POSTERS="sometimes": must be true or false');
  });

  it('a producer needs no KIE account', () => {
    expect(loadConfig({}, { accountsRequired: false }).kie.accounts).toEqual([]);
  });

  it('the seed profile is the default: one interval for every request, 10 in flight, 100 a day', () => {
    const c = loadConfig({ KIE_API_KEY: 'k' });
    expect(c.kie.limitsProfile).toBe('seed');
    expect(c.kie.rates).toEqual({ intervalMs: 1000 });
    expect(c.kie.accounts[0]).toMatchObject({ maxConcurrent: 10, dailyLimit: 100 });
    expect(c.kie.accounts[0]!.rates).toBeUndefined();
    // A budget set on top of the seed keeps the interval.
    expect(loadConfig({ KIE_API_KEY: 'k', KIE_RATE_CREATE: '5/1m' }).kie.rates).toEqual({ intervalMs: 1000, create: { limit: 5, windowMs: 60_000 } });
  });

  it("KIE_LIMITS_PROFILE=kie-2026: KIE's documented creates and reads, 100 in flight, no interval and no daily quota", () => {
    const c = loadConfig({ KIE_API_KEY: 'k', KIE_LIMITS_PROFILE: 'kie-2026' });
    expect(c.kie.rates).toEqual({ create: { limit: 20, windowMs: 10_000 }, read: { limit: 10, windowMs: 1000 } });
    expect(c.kie.minIntervalMs).toBe(0);
    expect(c.kie.intervalMarginMs).toBe(50);
    expect(c.kie.accounts[0]).toMatchObject({ maxConcurrent: 100, dailyLimit: Number.POSITIVE_INFINITY });
    expect(describeConfig(c)).toMatchObject({ kie: { accounts: [{ dailyLimit: 'none' }] } });
  });

  it('explicit settings override the profile, each on its own', () => {
    const c = loadConfig({
      KIE_API_KEY: 'k',
      KIE_LIMITS_PROFILE: 'kie-2026',
      KIE_RATE_CREATE: '40/10s',
      KIE_RATE_READ: 'off',
      KIE_MIN_INTERVAL_MS: '200',
      KIE_DAILY_LIMIT: '500',
      KIE_MAX_CONCURRENT: '50',
      KIE_INTERVAL_MARGIN_MS: '20',
    });
    expect(c.kie.rates).toEqual({ intervalMs: 200, create: { limit: 40, windowMs: 10_000 } });
    expect(c.kie.accounts[0]).toMatchObject({ maxConcurrent: 50, dailyLimit: 500 });
    expect(c.kie.intervalMarginMs).toBe(20);
  });

  it('reads N per window in ms, s, m or h, and a bare unit as one of it', () => {
    const rates = (v: string) => loadConfig({ KIE_API_KEY: 'k', KIE_RATE_READ: v }).kie.rates.read;
    expect(rates('10/1s')).toEqual({ limit: 10, windowMs: 1000 });
    expect(rates('10/s')).toEqual({ limit: 10, windowMs: 1000 });
    expect(rates('3 / 250ms')).toEqual({ limit: 3, windowMs: 250 });
    expect(rates('100/2m')).toEqual({ limit: 100, windowMs: 120_000 });
    expect(rates('7/500')).toEqual({ limit: 7, windowMs: 500 });
    const err = configError({ KIE_API_KEY: 'k', KIE_RATE_CREATE: '20 per 10s', KIE_RATE_READ: '0/1s', KIE_LIMITS_PROFILE: 'kie' });
    expect(err.issues.map((i) => i.field).sort()).toEqual(['KIE_LIMITS_PROFILE', 'KIE_RATE_CREATE', 'KIE_RATE_READ']);
    expect(err.message).toContain('KIE_RATE_CREATE="20 per 10s": must be N/window, e.g. 20/10s or 10/1s');
    expect(err.message).toContain('KIE_LIMITS_PROFILE="kie": must be one of seed, kie-2026');
    expect(configError({ KIE_API_KEY: 'k', KIE_RATE_READ: '1/2d' }).issues.map((i) => i.field)).toEqual(['KIE_RATE_READ']);
  });

  it("KIE_ACCOUNT_RATES gives one account its own rates, each key over the fleet's", () => {
    const c = loadConfig({
      KIE_ACCOUNTS: 'a:key-a,b:key-b,c:key-c',
      KIE_LIMITS_PROFILE: 'kie-2026',
      KIE_ACCOUNT_RATES: 'b=create:40/10s;read:off,c=interval:1s',
    });
    const [a, b, cc] = c.kie.accounts;
    expect(a!.rates).toBeUndefined();
    expect(b!.rates).toEqual({ create: { limit: 40, windowMs: 10_000 } });
    expect(cc!.rates).toEqual({ intervalMs: 1000, create: { limit: 20, windowMs: 10_000 }, read: { limit: 10, windowMs: 1000 } });
    const err = configError({ KIE_ACCOUNTS: 'a:key-a', KIE_ACCOUNT_RATES: 'zz=create:1/s,a=write:1/s,a=read:1 per s' });
    expect(err.issues.map((i) => i.value)).toEqual(['zz=create:1/s', 'a=write:1/s', 'a=read:1 per s']);
    expect(err.message).toContain('KIE_ACCOUNT_RATES="zz=create:1/s": must be name=key:value;... for a configured account');
  });
});
