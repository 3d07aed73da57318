/** Small text helpers every message uses; one copy of each. */
import { redactAndClip } from './redact.js';

/** Cuts `text` to at most `max` characters, ending in `…` when it was longer; secrets are redacted before the cut. */
export function clip(text: string, max = 60): string {
  return redactAndClip(text, max);
}

/** `plural(1, 'pod')` → `1 pod`, `plural(3, 'pod')` → `3 pods`. */
export function plural(count: number, word: string): string {
  return `${count} ${word}${count === 1 ? '' : 's'}`;
}

/** A digest as a table cell: `sha256:8b96908d…` → `8b96908d` (8 hex characters, no algorithm); `?` when unknown. */
export function short(digest: string | undefined): string {
  return digest ? digest.replace(/^sha256:/, '').slice(0, 8) : '?';
}

/** Whitespace (newlines too) folded to single spaces, then clipped: one line of a log or an error. */
export function oneLine(text: string, max = 300): string {
  return clip(text.replace(/\s+/g, ' ').trim(), max);
}
