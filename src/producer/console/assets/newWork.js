// New work: one render built from the model catalog (its durations, ratios and options), or a CSV /
// JSON Lines file; either way the dry run (count, cost, time) comes first, then the enqueue.
import { api, facts, h, show, until, usd } from './lib.js';

const MAX_COPIES = 50;

/** The catalog mode a request uses: image-to-video with images, else text-to-video. */
function modeOf(model, withImages) {
  return (withImages && model.modes.image) || model.modes.text || model.modes.image;
}

function optionField(name, spec) {
  const id = `option-${name}`;
  const hint = h('p', { class: 'hint' }, spec.about);
  if (spec.type === 'boolean') {
    return h(
      'div',
      {},
      h('label', { for: id }, h('input', { id, type: 'checkbox', name, checked: Boolean(spec.default), 'data-type': 'boolean' }), ` ${name}`),
      hint,
    );
  }
  let input;
  if (spec.type === 'enum') {
    input = h(
      'select',
      { id, name, 'data-type': 'enum' },
      h('option', { value: '' }, '(default)'),
      Object.keys(spec.values).map((v) => h('option', { value: v, selected: v === spec.default }, v)),
    );
  } else if (spec.type === 'number') {
    input = h('input', {
      id,
      name,
      type: 'number',
      min: spec.min,
      max: spec.max,
      step: spec.integer ? 1 : 'any',
      value: spec.default ?? '',
      'data-type': 'number',
    });
  } else {
    input = h('input', { id, name, type: 'text', maxlength: spec.maxChars, value: spec.default ?? '', 'data-type': 'string' });
  }
  return h('div', {}, h('label', { for: id }, name), input, hint);
}

export function newWorkView(view) {
  const review = h('section', { class: 'panel', 'aria-label': 'dry run', hidden: true, id: 'review', tabindex: -1 });
  const batchName = h('input', { id: 'batch-name', name: 'batch', maxlength: 200, placeholder: 'made up when left empty' });
  const budget = h('input', { id: 'batch-budget', name: 'budget', type: 'number', min: 0, step: '0.01', placeholder: 'no budget' });

  const model = h('select', { id: 'model', name: 'model' });
  const prompt = h('textarea', { id: 'prompt', name: 'prompt', rows: 3, required: true });
  const images = h('textarea', { id: 'images', name: 'images', rows: 2, placeholder: 'https://… (one per line)' });
  const duration = h('select', { id: 'duration', name: 'duration' });
  const ratio = h('select', { id: 'aspect-ratio', name: 'aspectRatio' });
  const copies = h('input', { id: 'copies', name: 'copies', type: 'number', min: 1, max: MAX_COPIES, value: 1, required: true });
  const options = h('div', { class: 'row' });
  const imagesBlock = h(
    'div',
    {},
    h('label', { for: 'images' }, 'Image URLs'),
    images,
    h('p', { class: 'hint' }, 'With images the model renders image-to-video.'),
  );
  const ratioBlock = h('div', {}, h('label', { for: 'aspect-ratio' }, 'Aspect ratio'), ratio);
  const formError = h('p', { class: 'error', role: 'alert' });
  let catalog = { models: [] };

  /** The selects follow the model (and whether images are given). */
  function fitToModel() {
    const entry = catalog.models.find((m) => m.id === model.value);
    if (!entry) return;
    imagesBlock.hidden = !entry.modes.image;
    const mode = modeOf(entry, images.value.trim() !== '');
    duration.replaceChildren(...mode.duration.seconds.map((s) => h('option', { value: s, selected: s === mode.duration.default }, `${s} s`)));
    ratioBlock.hidden = !mode.aspectRatio;
    ratio.replaceChildren(...Object.keys(mode.aspectRatio?.values ?? {}).map((r) => h('option', { value: r }, r)));
    options.replaceChildren(...Object.entries(mode.options).map(([name, spec]) => optionField(name, spec)));
  }

  function renderRequest() {
    const request = { prompt: prompt.value, model: model.value, duration: Number(duration.value) };
    if (!ratioBlock.hidden && ratio.value) request.aspectRatio = ratio.value;
    const urls = images.value.split(/\s+/).filter(Boolean);
    if (urls.length) request.images = urls;
    const opts = {};
    for (const input of options.querySelectorAll('[data-type]')) {
      const type = input.dataset.type;
      if (type === 'boolean') opts[input.name] = input.checked;
      else if (input.value !== '') opts[input.name] = type === 'number' ? Number(input.value) : input.value;
    }
    if (Object.keys(opts).length) request.options = opts;
    return request;
  }

  function batchFields() {
    const fields = {};
    if (batchName.value.trim()) fields.id = batchName.value.trim();
    if (budget.value !== '') fields.budgetUsd = Number(budget.value);
    return fields;
  }

  /** The dry run of `requests`, shown with the button that enqueues exactly them. */
  async function check(requests, notes = []) {
    review.hidden = false;
    review.replaceChildren(h('p', {}, 'Estimating…'));
    try {
      const dry = await api('POST', '/v1/batches?dryRun=true', { ...batchFields(), requests });
      const e = dry.estimate;
      const status = h('p', { role: 'status' });
      const enqueue = h(
        'button',
        {
          type: 'button',
          id: 'enqueue',
          onclick: async () => {
            enqueue.disabled = true;
            status.textContent = 'Enqueuing…';
            try {
              await api('POST', '/v1/batches', { ...batchFields(), id: dry.batchId, requests });
              location.hash = `#/batches/${encodeURIComponent(dry.batchId)}`;
            } catch (err) {
              status.textContent = err.message;
              status.className = 'error';
              enqueue.disabled = false;
            }
          },
        },
        `Enqueue ${e.jobs} render${e.jobs === 1 ? '' : 's'}`,
      );
      review.replaceChildren(
        h('h2', {}, `Dry run of batch ${dry.batchId}`),
        facts([
          ['renders', String(e.jobs)],
          ['cost', usd(e.costUsd)],
          ['video', `${e.seconds} s`],
          ['finish', until(e.finish.finishAt)],
          ...(e.budget ? [['budget allows', `${e.budget.jobsAllowed} render(s)`]] : []),
        ]),
        ...notes,
        h(
          'ul',
          { class: 'hint' },
          e.finish.assumptions.map((a) => h('li', {}, a)),
        ),
        h('div', { class: 'actions' }, enqueue),
        status,
      );
      review.focus();
    } catch (err) {
      review.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
    }
  }

  const single = h(
    'form',
    {
      class: 'panel',
      id: 'render-form',
      onsubmit: (event) => {
        event.preventDefault();
        formError.textContent = '';
        const n = Number(copies.value);
        void check(Array.from({ length: n }, () => renderRequest()));
      },
    },
    h('h2', {}, 'One render'),
    h('label', { for: 'prompt' }, 'Prompt'),
    prompt,
    h(
      'div',
      { class: 'row' },
      h('div', {}, h('label', { for: 'model' }, 'Model'), model),
      h('div', {}, h('label', { for: 'duration' }, 'Duration'), duration),
      ratioBlock,
      h('div', {}, h('label', { for: 'copies' }, 'Copies'), copies),
    ),
    imagesBlock,
    options,
    formError,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Check cost and time')),
  );

  const file = h('input', { id: 'batch-file', type: 'file', accept: '.csv,.jsonl,.json,.ndjson,text/csv,application/json', required: true });
  const fileNotes = h('div');
  const upload = h(
    'form',
    {
      class: 'panel',
      id: 'file-form',
      onsubmit: async (event) => {
        event.preventDefault();
        const chosen = file.files[0];
        if (!chosen) return;
        fileNotes.replaceChildren();
        try {
          const read = await api('POST', '/v1/batch-files', { format: /\.csv$/i.test(chosen.name) ? 'csv' : 'jsonl', text: await chosen.text() });
          const bad = read.bad.map((b) => h('li', {}, `line ${b.line}: `, b.issues.map((i) => `${i.field} ${i.rule}`).join('; ')));
          const notes = bad.length ? [h('p', { class: 'warn' }, `${bad.length} line(s) left out:`), h('ul', {}, bad)] : [];
          if (!read.requests.length) {
            review.hidden = false;
            review.replaceChildren(h('p', { class: 'error', role: 'alert' }, 'No line of the file is a render request.'), ...notes);
            return;
          }
          await check(read.requests, notes);
        } catch (err) {
          fileNotes.replaceChildren(h('p', { class: 'error', role: 'alert' }, err.message));
        }
      },
    },
    h('h2', {}, 'Or a file'),
    h('label', { for: 'batch-file' }, 'CSV (a header row naming the fields) or JSON Lines'),
    file,
    h('p', { class: 'hint' }, 'Columns and keys as in a render request: prompt, model, duration, aspectRatio, images (space-separated), options.<name>…'),
    fileNotes,
    h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Check the file')),
  );

  show(
    view,
    'New work',
    h(
      'section',
      { class: 'panel', 'aria-label': 'batch' },
      h(
        'div',
        { class: 'row' },
        h('div', {}, h('label', { for: 'batch-name' }, 'Batch name'), batchName),
        h('div', {}, h('label', { for: 'batch-budget' }, 'Budget (USD)'), budget),
      ),
    ),
    single,
    upload,
    review,
  );

  model.addEventListener('change', fitToModel);
  // Images switch the mode (and its durations, ratios, options) only when they come or go.
  let withImages = false;
  images.addEventListener('input', () => {
    if (withImages === (images.value.trim() !== '')) return;
    withImages = !withImages;
    fitToModel();
  });
  api('GET', '/v1/models').then(
    (c) => {
      catalog = c;
      const usable = c.models.filter((m) => m.modes.text || m.modes.image);
      model.replaceChildren(
        ...usable.map((m) =>
          h('option', { value: m.id, selected: m.id === c.defaultModel }, `${m.title} (${m.id})${m.status === 'live' ? '' : `, ${m.status}`}`),
        ),
      );
      fitToModel();
    },
    (err) => (formError.textContent = err.message),
  );
}
