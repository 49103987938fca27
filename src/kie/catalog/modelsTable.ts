/**
 * The catalog as a Markdown table, for the README and `sora-batch models --markdown`. A unit test
 * keeps the README's copy equal to this output.
 */
import type { ModelCatalog } from './modelCatalog';
import { listOf } from './resolveRequest';
import type { ModeSpec, ModelEntry, OptionSpec } from './modelEntry';

const cell = (text: string): string => text.replace(/\|/g, '\\|');

function optionText(name: string, spec: OptionSpec): string {
  switch (spec.type) {
    case 'enum':
      return `${name} (${Object.keys(spec.values).join('/')})`;
    case 'number':
      return `${name} (${spec.min}..${spec.max})`;
    case 'string':
      return `${name} (text ≤ ${spec.maxChars})`;
    case 'boolean':
      return name;
  }
}

function priceText(mode: ModeSpec): string {
  const { per, credits, rules, verified } = mode.price;
  const unit = per === 'clip' ? 'clip' : 's';
  const all = [credits, ...rules.map((r) => r.credits)];
  const [min, max] = [Math.min(...all), Math.max(...all)];
  const by = [...new Set(rules.flatMap((r) => Object.keys(r.when)))].join(', ');
  const range = min === max ? `${credits}` : `${min}–${max}`;
  return `${range} cr/${unit}${by ? ` by ${by}` : ''}${verified ? '' : ' †'}`;
}

function modeText(mode: ModeSpec | undefined, withRoles: boolean): string {
  if (!mode) return '—';
  const images = mode.images;
  const most = images && Math.max(images.plain.length, ...images.slots.filter((s) => s.role === 'reference').map((s) => s.max));
  const roles = withRoles && images ? ` (${[...new Set(images.slots.map((s) => s.role))].join(', ')}; ≤ ${most})` : '';
  return `\`${mode.kieModel}\`${roles}`;
}

function row(entry: ModelEntry): string {
  const modes = Object.values<ModeSpec>(entry.modes);
  const main = entry.modes.text ?? entry.modes.storyboard ?? entry.modes.image!;
  const ratios = [...new Set(modes.flatMap((m) => Object.keys(m.aspectRatio?.values ?? {})))];
  const options = new Map<string, string>();
  // The first mode's wording of an option wins (text-to-video's, where a later mode offers fewer values).
  for (const mode of modes) for (const [name, spec] of Object.entries(mode.options)) if (!options.has(name)) options.set(name, optionText(name, spec));
  const seed = main.seed ? `seed ${main.seed.min}..${main.seed.max}` : undefined;
  const prices = [...new Set(modes.map(priceText))].join(' / ');
  return `| ${[
    `\`${entry.id}\``,
    entry.title,
    entry.family + (entry.followsApiStyle ? ' (KIE_API_STYLE)' : ''),
    entry.status,
    entry.modes.storyboard ? `${modeText(entry.modes.storyboard, false)} (storyboard)` : modeText(entry.modes.text, false),
    modeText(entry.modes.image, true),
    listOf(main.duration.seconds),
    ratios.length ? ratios.join(', ') : '—',
    `${main.prompt?.maxChars ?? main.shots?.maxChars ?? '—'}`,
    [...options.values(), ...(seed ? [seed] : [])].join(', ') || '—',
    prices,
    `[docs](${entry.docs[0]}) ${entry.checked}`,
  ]
    .map(cell)
    .join(' | ')} |`;
}

export function modelsMarkdown(catalog: ModelCatalog): string {
  const header = [
    '| id | model | family | status | text-to-video (KIE model) | image-to-video (roles; at most) | seconds | aspect ratios | prompt ≤ | options | price | docs (checked) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  return [...header, ...Object.values(catalog.entries).map(row)].join('\n');
}
