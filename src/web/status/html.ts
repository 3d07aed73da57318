import { redact } from '../../log.js';
import { PAGE_SCRIPT_PATH, PAGE_STYLE_PATH, FAVICON_PATH } from './assets.js';

/**
 * HTML building blocks for the status page. Every text that reaches a page goes through `text()`:
 * redacted first (a secret must match before escaping changes its characters), then escaped, so
 * names from pods, registries and notes can never become markup.
 */

const entities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

export function escapeHtml(value: string): string {
  // Control characters have no business on a page (and some are invalid in HTML).
  return value.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g, '').replace(/[&<>"']/g, (char) => entities[char]!);
}

/** Untrusted text → safe HTML text. */
export const text = (value: string | number): string => escapeHtml(redact(String(value)));

export interface PageOptions {
  title: string;
  /** Which top link is the current page. */
  section: 'status' | 'incidents' | 'other';
  /** Whether the page refreshes its content in place. */
  live: boolean;
}

/**
 * A whole document. `<main id="content">` is what the page script swaps on refresh, so
 * everything that changes lives inside it.
 */
export function page(options: PageOptions, body: string): string {
  const nav = (href: string, label: string, here: boolean) => `<a href="${href}"${here ? ' aria-current="page"' : ''}>${label}</a>`;
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="referrer" content="no-referrer">',
    `<title>${text(options.title)} · Driftwatch</title>`,
    `<link rel="icon" href="${FAVICON_PATH}" type="image/svg+xml">`,
    `<link rel="stylesheet" href="${PAGE_STYLE_PATH}">`,
    options.live ? `<script src="${PAGE_SCRIPT_PATH}" defer></script>` : '',
    '</head>',
    '<body>',
    `<header class="top"><span class="brand">Driftwatch</span><nav>${nav('/', 'Versions', options.section === 'status')}${nav('/incidents', 'Incidents', options.section === 'incidents')}</nav></header>`,
    `<main id="content"${options.live ? ' data-live="1"' : ''}>`,
    body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}
