/**
 * The status page's own assets, served by the product (no CDN, no web font): one stylesheet, one
 * small script that refreshes the content in place, and the favicon.
 */

export const PAGE_STYLE_PATH = '/assets/status.css';
export const PAGE_SCRIPT_PATH = '/assets/status.js';
export const FAVICON_PATH = '/favicon.svg';

/** How often an open page fetches itself again (PRODUCTION.md: a change shows within 15 s). */
export const REFRESH_MS = 15_000;

export const PAGE_STYLE = `
:root { color-scheme: light; --fg: #202124; --muted: #5f6368; --line: #dadce0; --bg: #ffffff; --panel: #f8f9fa;
  --current: #1e8e3e; --stale: #b06000; --split: #c5221f; --down: #c5221f; --unknown: #5f6368; }
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body { margin: 0; font: 16px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: var(--fg); background: var(--bg); }
a { color: #1a73e8; }
.top { display: flex; flex-wrap: wrap; align-items: baseline; gap: .5rem 1.5rem; padding: .75rem 1rem; border-bottom: 1px solid var(--line); background: var(--panel); }
.brand { font-weight: 700; }
.top nav { display: flex; gap: 1rem; }
.top nav a[aria-current] { font-weight: 700; color: var(--fg); text-decoration: none; }
main { max-width: 72rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.35rem; margin: .25rem 0 .5rem; overflow-wrap: anywhere; }
h2 { font-size: 1.1rem; margin: 1.5rem 0 .5rem; }
.meta { color: var(--muted); font-size: .9rem; margin: 0 0 1rem; }
.empty { color: var(--muted); }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .5rem; border-bottom: 1px solid var(--line); vertical-align: top; overflow-wrap: anywhere; }
th { font-size: .85rem; color: var(--muted); font-weight: 600; }
td.kind { color: var(--muted); font-size: .85rem; white-space: nowrap; }
.verdict { display: inline-block; padding: 0 .5rem; border-radius: 1rem; font-weight: 600; font-size: .85rem; color: #fff; white-space: nowrap; }
.verdict-current { background: var(--current); }
.verdict-stale { background: var(--stale); }
.verdict-split, .verdict-down { background: var(--down); }
.verdict-unknown { background: var(--unknown); }
.notes { margin: .25rem 0 0; padding: 0; list-style: none; color: var(--muted); font-size: .85rem; font-weight: 400; }
main.is-stale::before { content: "Can't reach Driftwatch; showing the last answer."; display: block; padding: .4rem .75rem; margin-bottom: .75rem; background: #fef7e0; border: 1px solid #f9ab00; border-radius: .4rem; }
.incidents { list-style: none; padding: 0; margin: 0; }
.incidents li { padding: .5rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.status { font-weight: 600; }
.status-open { color: var(--down); }
.status-resolved { color: var(--current); }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .5rem; margin: 1rem 0; }
.figures div { background: var(--panel); border: 1px solid var(--line); border-radius: .4rem; padding: .5rem .75rem; }
.figures dt { font-size: .8rem; color: var(--muted); }
.figures dd { margin: 0; font-weight: 600; }
.chart { margin: 1rem 0; border: 1px solid var(--line); border-radius: .4rem; overflow-x: auto; }
.chart svg { display: block; width: 100%; height: auto; }
.timeline { list-style: none; padding: 0; margin: 0; font-size: .92rem; }
.timeline li { padding: .3rem 0; border-bottom: 1px solid var(--line); overflow-wrap: anywhere; }
.timeline time, .timeline .offset { color: var(--muted); font-variant-numeric: tabular-nums; }
.timeline .word { font-weight: 600; }
@media (max-width: 40rem) {
  main { padding: .75rem; }
  table.matrix thead { display: none; }
  table.matrix, table.matrix tbody, table.matrix tr, table.matrix td { display: block; width: 100%; }
  table.matrix tr { border-bottom: 1px solid var(--line); padding: .4rem 0; }
  table.matrix td { border: 0; padding: .1rem 0; }
  table.matrix td[data-label]::before { content: attr(data-label) ": "; color: var(--muted); font-size: .85rem; }
  table.matrix td[data-label="what"]::before { content: ""; }
  table.matrix td.what { font-weight: 600; }
  /* The chart keeps its type readable on a phone: it scrolls sideways inside its frame, the page doesn't. */
  .chart svg { min-width: 45rem; }
}
`;

/**
 * Refreshes <main id="content"> every REFRESH_MS: fetches the same URL, swaps the new content
 * in, no navigation and no flash. A failed fetch keeps what is shown and says so.
 */
export const PAGE_SCRIPT = `(function () {
  'use strict';
  var every = ${REFRESH_MS};
  function current() { return document.getElementById('content'); }
  function mark(stale) {
    var main = current();
    if (main) main.classList.toggle('is-stale', stale);
  }
  function refresh() {
    fetch(location.pathname + location.search, { headers: { accept: 'text/html' }, credentials: 'same-origin', cache: 'no-store' })
      .then(function (response) {
        if (!response.ok) throw new Error('status ' + response.status);
        return response.text();
      })
      .then(function (html) {
        var next = new DOMParser().parseFromString(html, 'text/html');
        var fresh = next.getElementById('content');
        var main = current();
        if (!fresh || !main) return;
        main.replaceWith(document.adoptNode(fresh));
        if (next.title) document.title = next.title;
      })
      .catch(function () { mark(true); });
  }
  if (current() && current().getAttribute('data-live') === '1') setInterval(refresh, every);
})();
`;

export const FAVICON_SVG = `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 32 32"><rect width="32" height="32" rx="6" fill="#1a73e8"/><path d="M5 20c4-6 7-6 11 0s7 6 11 0" fill="none" stroke="#fff" stroke-width="3" stroke-linecap="round"/><circle cx="16" cy="10" r="3" fill="#fff"/></svg>`;
