// A batch: its figures, then a grid of its videos (playable here, through short-lived S3 links),
// and its failures with their reasons and what to do. Cards already shown are kept, so a video
// playing is not interrupted by an update.
import { api, bytes, facts, h, percentDone, progressBar, show, until, usd, when } from './lib.js';

/** A link past its 15 minutes fails to load: sign it again (at most once a minute, so a broken object does not loop). */
function refreshOnExpiry(video, batchId, jobId) {
  video.addEventListener('error', async () => {
    if (Date.now() - Number(video.dataset.refreshedAt ?? 0) < 60_000) return;
    video.dataset.refreshedAt = String(Date.now());
    const fresh = await api('GET', `/v1/batches/${encodeURIComponent(batchId)}/videos`).catch(() => undefined);
    const url = fresh?.videos.find((x) => x.jobId === jobId)?.url;
    if (url) video.src = url;
  });
  return video;
}

function videoCard(v, batchId) {
  if (v.state !== 'stored') {
    return h(
      'article',
      { class: `card ${v.state}`, 'data-job': v.jobId },
      h('p', { class: 'prompt' }, v.prompt ?? `job ${v.jobId}`),
      h('p', { class: v.state === 'failed' ? 'error' : 'hint' }, `${v.state}: ${v.reason ?? ''}`),
      v.advice && h('p', {}, h('strong', {}, 'What to do: '), v.advice),
      h('p', { class: 'hint' }, `job ${v.jobId}`),
    );
  }
  const video = v.url
    ? refreshOnExpiry(
        h('video', { controls: true, preload: 'metadata', playsInline: true, src: v.url, 'aria-label': `video of job ${v.jobId}: ${v.prompt ?? ''}` }),
        batchId,
        v.jobId,
      )
    : h('p', { class: 'hint' }, 'no link: the API cannot sign S3 links (no S3 credentials?)');
  return h(
    'article',
    { class: 'card stored', 'data-job': v.jobId },
    video,
    h('p', { class: 'prompt' }, v.prompt ?? ''),
    h(
      'dl',
      {},
      h('dt', {}, 'model'),
      h('dd', {}, v.model ?? '–'),
      h('dt', {}, 'duration'),
      h('dd', {}, v.durationSeconds === null ? '–' : `${v.durationSeconds} s`),
      h('dt', {}, 'size'),
      h('dd', {}, bytes(v.size)),
      h('dt', {}, 'sha256'),
      h('dd', { class: 'mono', title: v.sha256 ?? '' }, v.sha256 ? `${v.sha256.slice(0, 16)}…` : '–'),
      h('dt', {}, 'key'),
      h('dd', { class: 'mono' }, v.key ?? '–'),
      h('dt', {}, 'job'),
      h('dd', {}, v.jobId),
    ),
  );
}

export function batchView(view, batchId, listen) {
  const summary = h('section', { 'aria-label': 'progress' });
  const grid = h('section', { class: 'grid', 'aria-label': 'videos' });
  const pending = h('p', { class: 'hint' });
  const cancel = h(
    'button',
    {
      type: 'button',
      class: 'quiet',
      onclick: async () => {
        if (!confirm(`Cancel batch ${batchId}? Jobs not yet sent to KIE are removed.`)) return;
        await api('DELETE', `/v1/batches/${encodeURIComponent(batchId)}`).catch((err) => alert(err.message));
      },
    },
    'Cancel batch',
  );
  show(
    view,
    `Batch ${batchId}`,
    summary,
    h(
      'div',
      { class: 'actions' },
      h('a', { href: `/v1/batches/${encodeURIComponent(batchId)}/manifest?format=csv`, download: `${batchId}.csv` }, 'Download the manifest (CSV)'),
      cancel,
    ),
    h('h2', {}, 'Videos'),
    pending,
    grid,
  );
  const cards = new Map();

  listen(`?batch=${encodeURIComponent(batchId)}`, (event, data) => {
    if (event === 'batch') {
      if (!data) {
        summary.replaceChildren(h('p', { class: 'error' }, `No batch ${batchId} in this queue.`));
        return;
      }
      const c = data.counts;
      const percent = percentDone({ jobs: data.jobs, done: c.stored, failed: c.failed, cancelled: c.cancelled });
      cancel.hidden = data.state !== 'open';
      pending.textContent = c.waiting + c.submitted ? `${c.waiting} waiting, ${c.submitted} rendering at KIE…` : '';
      summary.replaceChildren(
        h('div', { id: 'batch-progress' }, progressBar(percent, 'batch progress')),
        facts([
          ['state', data.state],
          ['videos stored', `${c.stored} of ${data.jobs}`],
          ['failed', String(c.failed)],
          ['spent', usd(data.spentUsd)],
          ['reserved', usd(data.reservedUsd)],
          ['budget', data.budgetUsd === null ? 'none' : `${usd(data.budgetUsd)} (${usd(data.budgetLeftUsd)} left)`],
          ['finish', data.state === 'open' ? until(data.estimatedFinishAt) : `ended ${when(data.endedAt)}`],
          ['seconds rendered', `${data.secondsRendered} s`],
        ]),
      );
    }
    if (event === 'videos' && data) {
      for (const v of data.videos) {
        const known = cards.get(v.jobId);
        if (known && known.state === v.state) continue;
        const card = videoCard(v, batchId);
        if (known) known.el.replaceWith(card);
        else grid.append(card);
        cards.set(v.jobId, { state: v.state, el: card });
      }
    }
  });
}
