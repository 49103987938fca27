/**
 * What a render costs, from its mode's price in the catalog: credits (what KIE takes off the
 * balance) and an estimate in dollars. KIE publishes no dollar value of a credit; 0.005 is what
 * its clients assume (KIE_USD_PER_CREDIT).
 */
import type { ModeSpec, OptionSpec } from './modelEntry';

export const DEFAULT_USD_PER_CREDIT = 0.005;

/** The part of a request a price depends on. */
export interface PricedRequest {
  duration: number;
  options?: Readonly<Record<string, string | number | boolean>>;
}

const round = (value: number, digits: number): number => Math.round(value * 10 ** digits) / 10 ** digits;

/** An option's value as rendered: the request's, else the value the adapter sends or KIE assumes. */
function optionValue(req: PricedRequest, spec: OptionSpec | undefined, name: string): unknown {
  return req.options?.[name] ?? spec?.default;
}

function unitCredits(req: PricedRequest, mode: ModeSpec): number {
  const resolution = optionValue(req, mode.options.resolution, 'resolution');
  const sound = optionValue(req, mode.options.sound, 'sound') ?? false;
  const rule = mode.price.rules.find(
    ({ when }) =>
      (when.resolution === undefined || when.resolution === resolution) &&
      (when.sound === undefined || when.sound === sound) &&
      (when.seconds === undefined || when.seconds === req.duration),
  );
  return rule?.credits ?? mode.price.credits;
}

/** Credits one task of this request costs. */
export function creditsFor(req: PricedRequest, mode: ModeSpec): number {
  const unit = unitCredits(req, mode);
  return round(mode.price.per === 'clip' ? unit : unit * req.duration, 3);
}

/** Estimated dollars of one task: the mode's own dollar price, or its credits at `usdPerCredit`. */
export function usdFor(req: PricedRequest, mode: ModeSpec, usdPerCredit: number): number {
  const { usd, per } = mode.price;
  if (usd === undefined) return round(creditsFor(req, mode) * usdPerCredit, 4);
  return round(per === 'clip' ? usd : usd * req.duration, 4);
}
