/**
 * Where a notification may go. A `notifyUrl` comes from whoever enqueued the job, so without this
 * rule a job could make a worker POST into the network it runs in (SSRF): a database's HTTP port,
 * an admin console, the cloud metadata service that hands out credentials.
 *
 * The producer applies it to literal addresses at the door; the worker applies it to the address
 * each connection actually goes to, after DNS (so a host name that resolves, or rebinds, to an
 * internal address is refused too).
 */
import { isIP } from 'node:net';
import ipaddr from 'ipaddr.js';
import type { FieldIssue } from './errors';

/**
 * Cloud metadata endpoints (AWS IMDS v4/v6, ECS and EKS credentials, GCP, Azure, Alibaba, Oracle).
 * Refused even with NOTIFY_ALLOW_PRIVATE=true: no receiver lives there, credentials do.
 */
const METADATA_ADDRESSES = new Set(
  ['169.254.169.254', '169.254.170.2', '169.254.170.23', '100.100.100.200', '192.0.0.192', 'fd00:ec2::254', 'fd00:ec2::23'].map((a) =>
    ipaddr.process(a).toString(),
  ),
);

/** Ranges no HTTP receiver can be in, whatever NOTIFY_ALLOW_PRIVATE says. */
const NEVER = new Set(['multicast', 'broadcast']);

const RANGE_NAMES: Record<string, string> = {
  loopback: 'loopback',
  private: 'private (RFC 1918)',
  uniqueLocal: 'unique local (private IPv6)',
  linkLocal: 'link-local',
  carrierGradeNat: 'carrier-grade NAT',
  unspecified: 'unspecified',
  multicast: 'multicast',
  broadcast: 'broadcast',
};

/** Only IPv6 global unicast (2000::/3) is public; ipaddr.js calls some older forms (::a.b.c.d) "unicast" too. */
const IPV6_GLOBAL_UNICAST = ipaddr.parseCIDR('2000::/3');

/**
 * Why a notification must not be sent to `address` (an IP address as DNS or a URL gives it), or
 * undefined when it may. Only public unicast addresses pass; NOTIFY_ALLOW_PRIVATE=true lets every
 * other address pass too, except metadata, multicast and broadcast addresses.
 */
export function destinationRefusal(address: string, allowPrivate: boolean): string | undefined {
  if (!isIP(address)) return `${address} is not an IP address`;
  // An IPv4-mapped IPv6 address (::ffff:10.0.0.1) is judged as the IPv4 address it reaches.
  const ip = ipaddr.process(address);
  const text = ip.toString();
  if (METADATA_ADDRESSES.has(text)) return `${text} is a cloud metadata address`;
  let range: string = ip.range();
  if (range === 'unicast' && ip.kind() === 'ipv6' && !ip.match(IPV6_GLOBAL_UNICAST)) range = 'reserved';
  if (range === 'unicast') return undefined;
  if (NEVER.has(range)) return `${text} is a ${range} address`;
  if (allowPrivate) return undefined;
  return `${text} is a ${RANGE_NAMES[range] ?? `${range} (not public)`} address (NOTIFY_ALLOW_PRIVATE=true allows it)`;
}

/**
 * The door's check of a notifyUrl: a literal address that may not be notified is refused naming
 * the field. A host name passes here; it is checked on every delivery, after DNS.
 */
export function checkNotifyUrl(notifyUrl: string | undefined, allowPrivate: boolean): FieldIssue[] {
  if (notifyUrl === undefined) return [];
  let host: string;
  try {
    // WHATWG parsing canonicalises the sneaky forms: http://2130706433/ and http://0x7f.1/ are 127.0.0.1.
    host = new URL(notifyUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return []; // the schema reports a URL that does not parse
  }
  const refusal = isIP(host) ? destinationRefusal(host, allowPrivate) : undefined;
  return refusal ? [{ field: 'notifyUrl', value: notifyUrl, rule: `must not point into a private network: ${refusal}` }] : [];
}
