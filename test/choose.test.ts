import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { createLogger } from '../src/log.js';
import { Runtime } from '../src/runtime.js';
import { chooseIncident, openIncidentTaking, type IncidentCandidate } from '../src/incidents/choose.js';
import { RecordingService } from './support/recording-service.js';

const incident = (id: number, primarySubject: string, openedAt = id * 1000): IncidentCandidate => ({ id, primarySubject, openedAt });
const links = (...subjects: string[]) => new Set(subjects);

const WORKER = 'worker:cost-optimizer-worker';
const IMAGE = 'image:ghcr.io/confighubai/confighub-worker:latest';
const WORKLOAD = 'workload:rackspace/relay/DaemonSet/relay';
const ENDPOINT = 'endpoint:relay-dfw1';
const SERVICE = 'service:relay';

describe('which open incident takes a subject', () => {
  it('takes the subject into the incident whose primary subject it is', () => {
    expect(chooseIncident(WORKER, [incident(1, ENDPOINT), incident(2, WORKER)], links())?.id).toBe(2);
  });

  it('takes a subject linked one hop to an incident\'s primary subject', () => {
    expect(chooseIncident(IMAGE, [incident(1, ENDPOINT), incident(2, WORKER)], links(WORKER))?.id).toBe(2);
  });

  it('takes nothing when neither the subject nor its links are a primary subject', () => {
    expect(chooseIncident(ENDPOINT, [incident(1, WORKER)], links(WORKLOAD, SERVICE))).toBeUndefined();
    expect(chooseIncident(ENDPOINT, [], links(WORKLOAD))).toBeUndefined();
  });

  it('gives the subject to the oldest open incident when several could take it, whatever the order given', () => {
    const open = [incident(7, SERVICE, 5_000), incident(3, WORKLOAD, 2_000), incident(9, ENDPOINT, 9_000)];
    expect(chooseIncident(ENDPOINT, open, links(WORKLOAD, SERVICE))?.id).toBe(3);
    // Opened at the same moment: the lower id is the older one.
    const tied = [incident(5, SERVICE, 1_000), incident(4, WORKLOAD, 1_000)];
    expect(chooseIncident(ENDPOINT, tied, links(WORKLOAD, SERVICE))?.id).toBe(4);
  });

  it('prefers an older linked incident over a newer one about the subject itself', () => {
    expect(chooseIncident(ENDPOINT, [incident(2, ENDPOINT, 2_000), incident(1, WORKLOAD, 1_000)], links(WORKLOAD))?.id).toBe(1);
  });

  it('never gives anything to a cluster incident through a link', () => {
    const open = [incident(1, 'cluster:prod', 1_000), incident(2, WORKLOAD, 2_000)];
    expect(chooseIncident(ENDPOINT, open, links('cluster:prod', WORKLOAD))?.id).toBe(2);
    expect(chooseIncident(ENDPOINT, [incident(1, 'cluster:prod')], links('cluster:prod'))).toBeUndefined();
  });

  it('keeps a cluster subject in its own incident only: never joined through links', () => {
    const open = [incident(1, WORKLOAD, 1_000), incident(2, 'cluster:rackspace', 2_000), incident(3, 'cluster:prod', 3_000)];
    expect(chooseIncident('cluster:rackspace', open, links(WORKLOAD))?.id).toBe(2);
    expect(chooseIncident('cluster:other', open, links(WORKLOAD))).toBeUndefined();
  });

  it('returns the caller\'s own record, so callers get every field back', () => {
    const open = [{ ...incident(4, WORKER), channel: 'C0ALERTS' }];
    expect(chooseIncident(WORKER, open, links())?.channel).toBe('C0ALERTS');
  });
});

describe('openIncidentTaking', () => {
  // A store with symmetric one-hop links, as store/subjects.ts keeps them.
  const fakeStore = (open: IncidentCandidate[], pairs: Array<[string, string]>) => ({
    incidents: { openIncidents: () => open },
    subjects: {
      linked: (subject: string) => new Set(pairs.flatMap(([a, b]) => (a === subject ? [b] : b === subject ? [a] : []))),
    },
  });

  it('reads the open incidents and the subject\'s links from the store', () => {
    const store = fakeStore([incident(1, ENDPOINT), incident(2, WORKER)], [[WORKER, IMAGE]]);
    expect(openIncidentTaking(store, IMAGE)?.id).toBe(2);
    expect(openIncidentTaking(store, WORKER)?.id).toBe(2);
  });

  it('never chains links: a subject two hops from a primary subject stays out', () => {
    // endpoint ↔ workload ↔ image: an incident about the image does not take the endpoint.
    const store = fakeStore([incident(1, IMAGE)], [[ENDPOINT, WORKLOAD], [WORKLOAD, IMAGE]]);
    expect(openIncidentTaking(store, ENDPOINT)).toBeUndefined();
    expect(openIncidentTaking(store, WORKLOAD)?.id).toBe(1);
  });
});

describe('the engine takes problems and notices by the one rule', () => {
  const runtimes: Runtime[] = [];
  afterEach(async () => {
    for (const runtime of runtimes.splice(0)) await runtime.stop(0).catch(() => {});
  });
  const start = () => {
    const clock = new ManualClock();
    const path = join(mkdtempSync(join(tmpdir(), 'dw-choose-')), 'db.sqlite');
    const runtime = new Runtime(parseConfig({ slack: { channel: 'C0ALERTS' }, store: { path }, alerting: { failuresBeforeAlert: 1 } }), { clock, log: createLogger({ level: 'silent' }) });
    runtimes.push(runtime);
    return { runtime, clock };
  };

  it('an endpoint linked to a workload incident and a newer service incident joins the older, and its notices go there too', async () => {
    const { runtime, clock } = start();
    const { engine, store } = runtime;
    store.subjects.setLinks(ENDPOINT, 'config', [WORKLOAD, SERVICE]);
    engine.check({ subject: WORKLOAD, problem: 'workload_failing', ok: false, summary: 'CrashLoopBackOff' });
    clock.advance(60_000);
    engine.check({ subject: SERVICE, problem: 'split_fleet', ok: false, summary: 'two versions served' });
    clock.advance(60_000);
    engine.check({ subject: ENDPOINT, problem: 'endpoint_stale', ok: false, summary: 'no version header' });
    engine.notice({ subject: ENDPOINT, kind: 'version_changed', summary: 'relay-dfw1 now serves no version' });

    const service = new RecordingService();
    await runtime.startDelivery(service).drain(2000);
    const roots = service.roots();
    expect(roots.map((root) => root.text.split('\n')[0])).toEqual([expect.stringContaining('#1'), expect.stringContaining('#2')]);
    const workloadThread = service.thread(roots[0]!.ts).map((message) => message.text);
    expect(workloadThread).toContain('relay-dfw1 now serves no version');
    expect(workloadThread.some((text) => text.startsWith('Also: stale deploy — endpoint relay-dfw1'))).toBe(true);
    expect(service.thread(roots[1]!.ts).map((message) => message.text)).toEqual([]);
  });

  it('a cluster-unreachable problem opens its own incident even beside an open incident on that cluster', async () => {
    const { runtime } = start();
    const { engine, store } = runtime;
    engine.check({ subject: 'workload:prod/traderx/Deployment/reference-data', problem: 'workload_failing', ok: false, summary: 'ImagePullBackOff' });
    engine.check({ subject: 'cluster:prod', problem: 'cluster_unreachable', ok: false, immediate: true, summary: 'cluster prod: connection refused' });
    expect(store.incidents.openIncidents().map((open) => open.primarySubject)).toEqual(['workload:prod/traderx/Deployment/reference-data', 'cluster:prod']);
  });
});
