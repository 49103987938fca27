// The fleet: queue counts, each account's work and quota, paused accounts and models (with a
// resume button), recent alerts; live.
import { api, facts, h, show, when } from './lib.js';

function resumeButton(label, path, status) {
  return h(
    'button',
    {
      type: 'button',
      onclick: async (event) => {
        event.target.disabled = true;
        try {
          const r = await api('POST', path);
          status.textContent = `${r.resumed} resumed; ${r.woken} waiting job(s) woken.`;
        } catch (err) {
          status.textContent = err.message;
          event.target.disabled = false;
        }
      },
    },
    label,
  );
}

function alertLine(a) {
  const details = Object.entries(a.details)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return h('li', {}, h('strong', {}, a.alert), ' ', h('span', { class: 'hint' }, when(a.at)), details && h('div', {}, details));
}

export function fleetView(view, listen) {
  const counts = h('section', { 'aria-label': 'queue' });
  const accounts = h('tbody');
  const models = h('ul', { class: 'alerts' });
  const alerts = h('ul', { class: 'alerts' });
  const status = h('p', { role: 'status', class: 'ok' });
  show(
    view,
    'Fleet',
    counts,
    status,
    h('h2', {}, 'Accounts'),
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
            ['Account', 'In flight', 'Quota used', 'Credits', 'Paused', ''].map((t) => h('th', { scope: 'col' }, t)),
          ),
        ),
        accounts,
      ),
    ),
    h('h2', {}, 'Paused models'),
    models,
    h('h2', {}, 'Recent alerts'),
    alerts,
  );
  listen('', (event, f) => {
    if (event !== 'fleet') return;
    counts.replaceChildren(h('p', { class: 'hint' }, `queue ${f.queue}`), facts(Object.entries(f.counts).map(([k, v]) => [k, String(v)])));
    accounts.replaceChildren(
      ...(f.accounts.length
        ? f.accounts.map((a) =>
            h(
              'tr',
              {},
              h('th', { scope: 'row' }, a.account),
              h('td', {}, `${a.inFlight} / ${a.maxConcurrent}`),
              h(
                'td',
                {},
                `${a.submitsInWindow} / ${a.dailyLimit}`,
                a.nextQuotaAt ? h('div', { class: 'hint' }, `back ${when(new Date(a.nextQuotaAt).toISOString())}`) : null,
              ),
              h('td', {}, a.credits ? String(a.credits.credits) : '–'),
              h('td', { class: a.paused ? 'warn' : '' }, a.paused ?? 'no'),
              h('td', {}, a.paused ? resumeButton(`Resume ${a.account}`, `/v1/accounts/${encodeURIComponent(a.account)}/resume`, status) : null),
            ),
          )
        : [h('tr', {}, h('td', { colspan: 6 }, 'No accounts: none configured for the API, and no worker has registered any.'))]),
    );
    models.replaceChildren(
      ...(f.pausedModels.length
        ? f.pausedModels.map((m) =>
            h(
              'li',
              {},
              h('strong', {}, m.model),
              ` paused by ${m.paused.by} since ${when(new Date(m.paused.since).toISOString())}: ${m.paused.reason} (${m.waiters} waiting) `,
              resumeButton(`Resume ${m.model}`, `/v1/models/${encodeURIComponent(m.model)}/resume`, status),
            ),
          )
        : [h('li', { class: 'hint' }, 'None.')]),
    );
    alerts.replaceChildren(...(f.alerts.length ? f.alerts.map(alertLine) : [h('li', { class: 'hint' }, 'None.')]));
  });
}
