/** Which open incident a command's change is told in: the engine's rule (incidents/choose.ts), not a second copy. */
import { describe, expect, it } from 'vitest';
import { openIncidentFor } from '../src/commands/follower.js';
import type { IncidentRecord } from '../src/domain/model.js';

describe('the incident a command\'s change belongs to', () => {
  const incident = (id: number, primarySubject: string, openedAt: number) => ({ id, primarySubject, openedAt, status: 'open' }) as IncidentRecord;
  const storeOf = (open: IncidentRecord[], links: Record<string, string[]>) =>
    ({
      incidents: { openIncidents: () => open, incidentByThread: () => undefined, incident: (id: number) => open.find((one) => one.id === id) },
      subjects: { linked: (subject: string) => new Set(links[subject] ?? []) },
    }) as unknown as Parameters<typeof openIncidentFor>[0]['store'];

  it('is never a cluster incident reached through a link', () => {
    const subject = 'workload:prod/shop/Deployment/web';
    expect(openIncidentFor({ store: storeOf([incident(1, 'cluster:prod', 1_000)], { [subject]: ['cluster:prod'] }) }, subject)).toBeUndefined();
  });

  it('is the oldest open one that takes the subject, whatever order the store lists them in', () => {
    const subject = 'workload:prod/shop/Deployment/web';
    const older = incident(2, 'image:registry.example.com/shop/web:1', 2_000);
    const newer = incident(3, subject, 3_000);
    expect(openIncidentFor({ store: storeOf([newer, incident(1, 'cluster:prod', 1_000), older], { [subject]: ['cluster:prod', older.primarySubject] }) }, subject)?.id).toBe(2);
  });

  it('is the incident whose thread the command came from, when that one is open', () => {
    const subject = 'workload:prod/shop/Deployment/web';
    const older = incident(2, subject, 2_000);
    const threaded = incident(4, 'image:registry.example.com/shop/web:1', 4_000);
    const store = storeOf([older, threaded], {});
    (store.incidents as unknown as { incidentByThread: () => number }).incidentByThread = () => 4;
    expect(openIncidentFor({ store }, subject, { user: 'U1', channel: 'C1', threadTs: '1.2', face: 'slack' })?.id).toBe(4);
  });
});
