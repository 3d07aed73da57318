/**
 * Real pod objects from test/fixtures/pods (see the README there), made to fit a test: the
 * watched workload's namespace and labels, a name of the test's choosing, and timestamps moved so
 * the latest one is `now` (the distances between them are kept, so "restarted 5 s ago" stays so).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { WatchedPod } from '../../src/clients/kube.js';
import type { KubeObject } from '../../src/sandbox/kube-objects.js';

/** A captured pod: what the watch delivers and what the fake apiserver stores. */
export type FixturePod = WatchedPod & KubeObject;

const DIR = join(import.meta.dirname, '..', 'fixtures', 'pods');
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function times(value: Json, out: number[]): void {
  if (typeof value === 'string' && ISO.test(value)) out.push(Date.parse(value));
  else if (Array.isArray(value)) for (const item of value) times(item, out);
  else if (value && typeof value === 'object') for (const item of Object.values(value)) times(item, out);
}

function shift(value: Json, by: number): Json {
  if (typeof value === 'string' && ISO.test(value)) return new Date(Date.parse(value) + by).toISOString().replace(/\.\d{3}Z$/, 'Z');
  if (Array.isArray(value)) return value.map((item) => shift(item, by));
  if (value && typeof value === 'object') return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, shift(item, by)]));
  return value;
}

export interface PodFixtureOptions {
  now?: number;
  name?: string;
  namespace?: string;
  labels?: Record<string, string>;
}

/** The fixture's `_source`: where the capture comes from. */
export function podFixtureSource(file: string): Record<string, string> {
  return (JSON.parse(readFileSync(join(DIR, `${file}.json`), 'utf8')) as { _source: Record<string, string> })._source;
}

export function podFixture(file: string, options: PodFixtureOptions = {}): FixturePod {
  const { _source: _ignored, ...raw } = JSON.parse(readFileSync(join(DIR, `${file}.json`), 'utf8')) as { _source: unknown } & { [key: string]: Json };
  const found: number[] = [];
  // deletionTimestamp is a deadline in the future, not an event: keep it out of "latest".
  times({ ...raw, metadata: { ...(raw.metadata as Record<string, Json>), deletionTimestamp: null } }, found);
  const latest = Math.max(...found);
  const moved = shift(raw, (options.now ?? Date.now()) - latest) as unknown as WatchedPod;
  const metadata = { ...moved.metadata };
  delete (metadata as { resourceVersion?: string }).resourceVersion;
  delete (metadata as { uid?: string }).uid;
  delete (metadata as { selfLink?: string }).selfLink;
  if (options.name) metadata.name = options.name;
  if (options.namespace) metadata.namespace = options.namespace;
  if (options.labels) metadata.labels = { ...(metadata.labels ?? {}), ...options.labels };
  return { ...moved, metadata } as FixturePod;
}
