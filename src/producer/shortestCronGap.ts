/**
 * The shortest time between two fires of a cron pattern, read from the fields cron-parser (the
 * parser BullMQ schedules with) makes of it: the times of day it fires at are every hour x minute x
 * second it allows, so the gaps between them, and the gap across midnight, are the gaps it fires at
 * (a step of 50 seconds fires at :00 and :50 of each minute, 10 s apart). The gap across midnight is
 * counted as if the pattern fired on consecutive days: a pattern for some days only is judged as
 * strictly as a daily one. Daylight-saving shifts are not counted.
 */
import { CronExpressionParser } from 'cron-parser';

const DAY_SECONDS = 86_400;

export interface CronGap {
  ms: number;
  /** Two consecutive fires that far apart, as times of day (hh:mm:ss). */
  between: [string, string];
}

const clock = (s: number): string => [Math.floor(s / 3600), Math.floor(s / 60) % 60, s % 60].map((n) => String(n).padStart(2, '0')).join(':');

/** Throws cron-parser's error for a pattern it cannot read. */
export function shortestCronGap(pattern: string): CronGap {
  const { hour, minute, second } = CronExpressionParser.parse(pattern).fields;
  const times: number[] = [];
  for (const h of hour.values as number[])
    for (const m of minute.values as number[]) for (const s of second.values as number[]) times.push(h * 3600 + m * 60 + s);
  times.sort((a, b) => a - b);
  const first = times[0]!;
  const last = times[times.length - 1]!;
  let gap: CronGap = { ms: (first + DAY_SECONDS - last) * 1000, between: [clock(last), clock(first)] };
  for (let i = times.length - 1; i > 0; i--) {
    const ms = (times[i]! - times[i - 1]!) * 1000;
    if (ms <= gap.ms) gap = { ms, between: [clock(times[i - 1]!), clock(times[i]!)] };
  }
  return gap;
}
