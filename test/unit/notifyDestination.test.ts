import { checkNotifyUrl, destinationRefusal } from '../../src/shared/notifyDestination';
import { NotificationError } from '../../src/shared/errors';
import { notificationBackoff, webhookIdFor } from '../../src/worker/notify/startNotifier';

describe('which addresses a notification may go to', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.8.9.10', 'loopback'],
    ['::1', 'loopback'],
    ['10.1.2.3', 'private (RFC 1918)'],
    ['172.16.0.1', 'private (RFC 1918)'],
    ['192.168.1.1', 'private (RFC 1918)'],
    ['fd12:3456::1', 'unique local'],
    ['169.254.1.1', 'link-local'],
    ['fe80::1', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT'],
    ['0.0.0.0', 'unspecified'],
    ['::', 'unspecified'],
    ['::ffff:10.0.0.1', 'private (RFC 1918)'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::7f00:1', 'reserved'],
    ['64:ff9b::a00:1', 'rfc6052'],
    ['2001:db8::1', 'reserved'],
  ])('refuses %s as %s unless private destinations are allowed', (address, kind) => {
    expect(destinationRefusal(address, false)).toContain(kind);
    expect(destinationRefusal(address, false)).toContain('NOTIFY_ALLOW_PRIVATE=true allows it');
    expect(destinationRefusal(address, true)).toBeUndefined();
  });

  it.each(['169.254.169.254', '169.254.170.2', 'fd00:ec2::254', '::ffff:169.254.169.254', '100.100.100.200', '192.0.0.192'])(
    'refuses the cloud metadata address %s even when private destinations are allowed',
    (address) => {
      expect(destinationRefusal(address, false)).toMatch(/is a cloud metadata address$/);
      expect(destinationRefusal(address, true)).toMatch(/is a cloud metadata address$/);
    },
  );

  it.each(['224.0.0.1', '255.255.255.255', 'ff02::1'])('refuses the multicast or broadcast address %s always', (address) => {
    expect(destinationRefusal(address, true)).toMatch(/is a (multicast|broadcast) address$/);
  });

  it.each(['93.184.215.14', '8.8.8.8', '2606:4700::1111', '::ffff:8.8.8.8'])('lets the public address %s through', (address) => {
    expect(destinationRefusal(address, false)).toBeUndefined();
  });

  it('refuses at the door a notifyUrl whose host is a literal internal address, in any spelling', () => {
    for (const url of [
      'http://127.0.0.1:8080/done',
      'http://2130706433/',
      'http://0x7f.1/',
      'http://[::1]/',
      'http://[::ffff:192.168.0.1]/x',
      'https://10.0.0.5/hook',
    ]) {
      const [issue] = checkNotifyUrl(url, false);
      expect(issue).toMatchObject({ field: 'notifyUrl', value: url });
      expect(issue!.rule).toMatch(/^must not point into a private network: .+ is a .+ address/);
    }
    expect(checkNotifyUrl('http://169.254.169.254/latest/meta-data/', true)[0]!.rule).toContain('cloud metadata');
    expect(checkNotifyUrl('http://127.0.0.1:8080/done', true)).toEqual([]);
  });

  it('leaves host names to the check at delivery time, after DNS', () => {
    expect(checkNotifyUrl('http://localhost:8080/done', false)).toEqual([]);
    expect(checkNotifyUrl('https://hooks.example.com/done', false)).toEqual([]);
    expect(checkNotifyUrl(undefined, false)).toEqual([]);
  });
});

describe('notification identity and retry timing', () => {
  it('gives an outcome one webhook-id, whatever the attempt, without "." in it', () => {
    const stored = webhookIdFor('q', { jobId: 'a.b:1', status: 'stored', result: {} });
    expect(stored).toMatch(/^msg_[0-9a-f]{32}$/);
    expect(webhookIdFor('q', { jobId: 'a.b:1', status: 'stored', result: { other: 1 } })).toBe(stored);
    expect(webhookIdFor('q', { jobId: 'a.b:1', status: 'failed', reason: 'x' })).not.toBe(stored);
    expect(webhookIdFor('other-queue', { jobId: 'a.b:1', status: 'stored', result: {} })).not.toBe(stored);
  });

  it('backs off exponentially from the base, capped at 6 hours, with jitter', () => {
    const mid = (): number => 0.5;
    expect([1, 2, 3, 4].map((n) => notificationBackoff(n, 10_000, undefined, mid))).toEqual([10_000, 20_000, 40_000, 80_000]);
    expect(notificationBackoff(30, 10_000, undefined, mid)).toBe(6 * 3_600_000);
    expect(notificationBackoff(1, 10_000, undefined, () => 0)).toBe(8000);
    expect(notificationBackoff(1, 10_000, undefined, () => 1)).toBe(12_000);
  });

  it('waits at least what a Retry-After asked for', () => {
    const err = new NotificationError('notifyUrl answered 429', false, 120_000);
    expect(notificationBackoff(1, 10_000, err, () => 0.5)).toBe(120_000);
  });
});
