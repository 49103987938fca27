// The batches list: progress, cost against budget, time to finish; live.
import { h, percentDone, progressBar, show, until, usd, when } from './lib.js';

export function batchesView(view, listen) {
  const body = h('tbody');
  const empty = h('p', { class: 'hint' }, 'No batches yet: start one under ', h('a', { href: '#/new' }, 'New work'), '.');
  show(
    view,
    'Batches',
    empty,
    h(
      'div',
      { class: 'scroll' },
      h(
        'table',
        {},
        h(
          'thead',
          {},
          h(
            'tr',
            {},
            ['Batch', 'State', 'Progress', 'Spent / budget', 'Finish', 'Created'].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        body,
      ),
    ),
  );
  listen('', (event, data) => {
    if (event !== 'batches') return;
    empty.hidden = data.batches.length > 0;
    body.replaceChildren(
      ...data.batches.map((b) =>
        h(
          'tr',
          {},
          h('td', {}, h('a', { href: `#/batches/${encodeURIComponent(b.batchId)}` }, b.batchId)),
          h('td', {}, b.state),
          h(
            'td',
            {},
            progressBar(percentDone(b), `batch ${b.batchId} progress`),
            h('div', { class: 'hint' }, `${b.done} stored, ${b.failed} failed of ${b.jobs}`),
          ),
          h('td', {}, `${usd(b.spentUsd)} / ${b.budgetUsd === null ? 'no budget' : usd(b.budgetUsd)}`),
          h('td', {}, b.state === 'open' ? until(b.estimatedFinishAt) : 'done'),
          h('td', {}, when(b.createdAt)),
        ),
      ),
    );
  });
}
