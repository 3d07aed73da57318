import { redact } from '../../log.js';
import type { MatrixRow } from '../../commands/version.js';
import { escapeHtml, page, text } from './html.js';
import type { IncidentSummary, IncidentView, StatusModel } from './model.js';
import { plural } from '../../domain/text.js';

/** The status page's documents: pure functions from the models to HTML, escaping every text. */

const kindLabel: Record<MatrixRow['kind'], string> = { worker: 'worker', workload: 'workload', service: 'service', endpoint: 'endpoint' };

function matrixRow(row: MatrixRow): string {
  const notes = row.notes.length ? `<ul class="notes">${row.notes.map((note) => `<li>${text(note.trim())}</li>`).join('')}</ul>` : '';
  return [
    '<tr>',
    `<td class="kind" data-label="kind">${kindLabel[row.kind]}</td>`,
    `<td class="what" data-label="what">${text(row.label)}${notes}</td>`,
    `<td data-label="desired">${text(row.desired)}</td>`,
    `<td data-label="running">${row.running !== undefined ? text(row.running) : '—'}</td>`,
    `<td data-label="served">${row.served !== undefined ? text(row.served) : '—'}</td>`,
    `<td data-label="verdict"><span class="verdict verdict-${row.verdict}">${row.verdict}</span></td>`,
    '</tr>',
  ].join('');
}

function incidentItem(incident: IncidentSummary): string {
  const when = incident.status === 'open' ? `open for ${text(incident.duration)}` : `resolved after ${text(incident.duration)}`;
  return `<li><a href="/incidents/${incident.id}">${text(incident.title)}</a> <span class="status status-${incident.status}">${when}</span></li>`;
}

export function renderStatusPage(model: StatusModel): string {
  const matrix = model.rows.length
    ? [
        '<table class="matrix">',
        '<thead><tr><th>kind</th><th>what</th><th>desired</th><th>running</th><th>served</th><th>verdict</th></tr></thead>',
        `<tbody>${model.rows.map(matrixRow).join('\n')}</tbody>`,
        '</table>',
      ].join('\n')
    : '<p class="empty">Nothing to show: no workers, workloads or endpoints are configured.</p>';
  const open = model.openIncidents.length ? `<ul class="incidents">${model.openIncidents.map(incidentItem).join('\n')}</ul>` : '<p class="empty">No open incidents.</p>';
  return page(
    { title: 'Versions', section: 'status', live: true },
    [
      `<h1>Versions: ${text(model.counts || 'nothing configured')}</h1>`,
      `<p class="meta">Updated <time datetime="${new Date(model.generatedAt).toISOString()}">${text(model.generatedText)}</time> · refreshes every 15 s</p>`,
      matrix,
      `<h2>Open incidents (${model.openIncidents.length})</h2>`,
      open,
    ].join('\n'),
  );
}

export function renderIncidentsPage(incidents: IncidentSummary[], generatedText: string): string {
  const list = incidents.length ? `<ul class="incidents">${incidents.map(incidentItem).join('\n')}</ul>` : '<p class="empty">No incidents yet.</p>';
  return page(
    { title: 'Incidents', section: 'incidents', live: true },
    [`<h1>Recent incidents</h1>`, `<p class="meta">Updated ${text(generatedText)} · refreshes every 15 s</p>`, list].join('\n'),
  );
}

export function renderIncidentPage(view: IncidentView): string {
  const { incident } = view;
  const figures = view.figures.map((figure) => `<div><dt><abbr title="time ${text(figure.meaning)}">${figure.label}</abbr></dt><dd>${text(figure.text)}</dd></div>`).join('');
  const timeline = view.timeline.length
    ? `<ol class="timeline">${view.timeline
        .map(
          (item) =>
            // Time, offset and word are Driftwatch's own words; the event's text and actor are not.
            `<li><time datetime="${new Date(item.at).toISOString()}">${escapeHtml(item.time)}</time> <span class="offset">${escapeHtml(item.offset)}</span> <span class="word">${escapeHtml(item.word)}</span>: ${text(item.text)}${item.actor ? ` <span class="actor">(${text(item.actor)})</span>` : ''}</li>`,
        )
        .join('\n')}</ol>`
    : '<p class="empty">No events recorded.</p>';
  return page(
    { title: `#${incident.id}`, section: 'other', live: incident.status === 'open' },
    [
      `<h1>${text(incident.title)}</h1>`,
      `<p class="meta"><span class="status status-${incident.status}">${incident.status === 'open' ? `Open for ${text(incident.duration)}` : `Resolved after ${text(incident.duration)}`}</span> · ${text(incident.subject)} · updated ${text(view.generatedText)}</p>`,
      `<dl class="figures">${figures}</dl>`,
      // The chart's labels come from pods, notes and registries: redacted like the PNG in the thread.
      `<figure class="chart" aria-label="timeline chart">${redact(view.chartSvg)}</figure>`,
      `<h2>Timeline (${plural(view.timeline.length, 'event')})</h2>`,
      timeline,
    ].join('\n'),
  );
}

export function renderNotFoundPage(): string {
  return page({ title: 'Not found', section: 'other', live: false }, '<h1>Not found</h1>\n<p>There is no incident or page at this address. <a href="/incidents">All incidents</a></p>');
}

/** A fault: plain words, no error text (it may name paths or hosts). */
export function renderErrorPage(): string {
  return page(
    { title: 'Unavailable', section: 'other', live: true },
    '<h1>The status page cannot read the store right now</h1>\n<p>Driftwatch keeps trying; this page refreshes itself. <code>/readyz</code> shows the store’s state.</p>',
  );
}
