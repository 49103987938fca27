// The console's router: one view at a time, chosen by the address's #fragment, each fed by the
// server-sent event stream (/v1/events) so that nothing reloads.
import { api } from './lib.js';
import { batchesView } from './batches.js';
import { batchView } from './batch.js';
import { fleetView } from './fleet.js';
import { newWorkView } from './newWork.js';

const view = document.getElementById('view');
const live = document.getElementById('live');
let stream;

/** Opens the event stream the view wants and hands it each event. */
function listen(query, onEvent) {
  stream?.close();
  stream = new EventSource(`/v1/events${query}`);
  live.textContent = 'connecting…';
  stream.onopen = () => (live.textContent = 'live');
  stream.onerror = () => (live.textContent = 'reconnecting…');
  for (const name of ['fleet', 'batches', 'batch', 'videos']) {
    stream.addEventListener(name, (event) => onEvent(name, JSON.parse(event.data)));
  }
}

function route() {
  const hash = location.hash || '#/batches';
  const batch = /^#\/batches\/(.+)$/.exec(hash);
  stream?.close();
  stream = undefined;
  live.textContent = '';
  for (const a of document.querySelectorAll('.top nav a')) {
    const href = a.getAttribute('href');
    if (href.startsWith('#') && hash.startsWith(href)) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  if (batch) batchView(view, decodeURIComponent(batch[1]), listen);
  else if (hash === '#/fleet') fleetView(view, listen);
  else if (hash === '#/new') newWorkView(view);
  else batchesView(view, listen);
  view.focus({ preventScroll: true });
}

document.getElementById('logout').addEventListener('click', async () => {
  await api('POST', '/console/logout').catch(() => undefined);
  location.assign('/login');
});

window.addEventListener('hashchange', route);
route();
