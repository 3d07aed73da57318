/**
 * WATCH as the apiserver streams it: one JSON event a line, the initial ADDED burst (or a replay
 * of history from `resourceVersion`), objects entering or leaving a filtered watch as ADDED or
 * DELETED, `ERROR 410 Gone` for compacted history, `timeoutSeconds`. Plus the faults the tests
 * inject into open streams (expire, end, silence, garbage).
 */
import type { ServerResponse } from 'node:http';
import type { KubeObject, ResourceInfo } from './kube-objects.js';
import type { HistoryEntry, ObjectStore } from './object-store.js';
import { matchesFieldSelector, matchesLabels, parseLabelSelector, type Requirement } from './selectors.js';
import { sendStatus } from './status.js';

/** What a watch asked for: one resource, maybe one namespace, maybe selectors. */
export interface WatchFilter {
  resource: ResourceInfo;
  namespace?: string;
  labels: Requirement[];
  fieldSelector?: string;
}

interface WatchStream extends WatchFilter {
  res: ServerResponse;
  /** Who opened it (the bearer token's client name). */
  client: string;
  silent: boolean;
  timer?: NodeJS.Timeout;
}

export type WatchEvent = { type: 'ADDED' | 'MODIFIED' | 'DELETED'; object: KubeObject };

export function watchWants(filter: WatchFilter, obj: KubeObject | undefined): boolean {
  if (!obj || obj.kind !== filter.resource.kind) return false;
  if (filter.namespace && obj.metadata.namespace !== filter.namespace) return false;
  return matchesLabels(obj.metadata.labels, filter.labels) && matchesFieldSelector(obj, filter.fieldSelector);
}

/** The event a write makes on a filtered watch: an object entering or leaving it shows up as ADDED or DELETED, as the real apiserver does. */
export function watchEvent(filter: WatchFilter, entry: HistoryEntry): WatchEvent | undefined {
  const now = watchWants(filter, entry.object);
  if (entry.type === 'DELETED') return now ? { type: 'DELETED', object: entry.object } : undefined;
  const before = entry.type === 'MODIFIED' && watchWants(filter, entry.previous);
  if (now && before) return { type: 'MODIFIED', object: entry.object };
  if (now) return { type: 'ADDED', object: entry.object };
  if (before) return { type: 'DELETED', object: entry.object };
  return undefined;
}

const goneStatus = (message: string) => ({ type: 'ERROR', object: { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason: 'Expired', code: 410 } });

export class WatchStreams {
  private readonly streams = new Set<WatchStream>();
  private readonly heldRequests = new Set<ServerResponse>();
  private holdNewWatches = false;
  private httpGoneOnce = false;

  constructor(private readonly objects: ObjectStore) {
    objects.onWrite((entry) => {
      for (const stream of this.streams) this.deliver(stream, entry);
    });
  }

  get size(): number {
    return this.streams.size;
  }

  /** Answers a `?watch=true` request: the stream stays open until it times out, ends or is cut. */
  open(res: ServerResponse, r: { resource: ResourceInfo; namespace?: string }, query: URLSearchParams, client: string): void {
    if (this.holdNewWatches) {
      this.heldRequests.add(res);
      res.on('close', () => this.heldRequests.delete(res));
      return; // never answered, not even headers
    }
    if (this.httpGoneOnce) {
      this.httpGoneOnce = false;
      sendStatus(res, 410, 'Expired', 'too old resource version');
      return;
    }
    const stream: WatchStream = {
      res,
      client,
      resource: r.resource,
      namespace: r.namespace,
      labels: parseLabelSelector(query.get('labelSelector') ?? undefined),
      fieldSelector: query.get('fieldSelector') ?? undefined,
      silent: false,
    };
    res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
    res.flushHeaders();
    const fromRv = query.get('resourceVersion');
    const { compactedBelow } = this.objects;
    if (fromRv && fromRv !== '0' && Number(fromRv) < compactedBelow) {
      res.end(`${JSON.stringify(goneStatus(`too old resource version: ${fromRv} (${compactedBelow})`))}\n`);
      return;
    }
    this.streams.add(stream);
    res.on('close', () => this.end(stream));
    if (!fromRv || fromRv === '0') {
      for (const obj of this.objects.all()) if (watchWants(stream, obj)) res.write(`${JSON.stringify({ type: 'ADDED', object: obj })}\n`);
    } else {
      for (const entry of this.objects.history) if (entry.rv > Number(fromRv)) this.deliver(stream, entry);
    }
    const timeoutSeconds = Number(query.get('timeoutSeconds') ?? 0);
    if (timeoutSeconds > 0) stream.timer = setTimeout(() => this.end(stream), timeoutSeconds * 1000);
  }

  private deliver(stream: WatchStream, entry: HistoryEntry): void {
    if (stream.silent) return;
    const event = watchEvent(stream, entry);
    if (event) stream.res.write(`${JSON.stringify(event)}\n`);
  }

  private end(stream: WatchStream): void {
    clearTimeout(stream.timer);
    this.streams.delete(stream);
    if (!stream.res.writableEnded) stream.res.end();
  }

  /** Open watches get `ERROR 410 Gone` and end (history is compacted first); `http` answers the next watch with HTTP 410 instead. */
  expire(opts: { http?: boolean } = {}): void {
    this.objects.compact();
    if (opts.http) {
      this.httpGoneOnce = true;
      for (const stream of [...this.streams]) this.end(stream);
      return;
    }
    for (const stream of [...this.streams]) {
      stream.res.write(`${JSON.stringify(goneStatus('too old resource version'))}\n`);
      this.end(stream);
    }
  }

  endAll(): void {
    for (const stream of [...this.streams]) this.end(stream);
  }

  silence(opts: { alsoNew?: boolean } = {}): void {
    for (const stream of this.streams) stream.silent = true;
    if (opts.alsoNew) this.holdNewWatches = true;
  }

  /** Open streams of `client` stop carrying bytes (its connection is black-holed). */
  silenceClient(client: string): void {
    for (const stream of this.streams) if (stream.client === client) stream.silent = true;
  }

  resume(): void {
    this.holdNewWatches = false;
    for (const res of this.heldRequests) res.destroy();
    this.heldRequests.clear();
  }

  garbage(): void {
    for (const stream of this.streams) {
      stream.res.write('<html><body>502 Bad Gateway</body></html>\n');
      stream.res.write('{"type":"MODIFIED","object":"\\u0000\\u0001garbage"}\n');
    }
  }

  /** Forgets every stream without answering (their sockets are being destroyed). */
  forgetAll(): void {
    for (const stream of [...this.streams]) {
      clearTimeout(stream.timer);
      this.streams.delete(stream);
    }
    this.heldRequests.clear();
  }
}
