import type { IncidentRecord } from '../../src/domain/model.js';
import type { TimelineEvent } from '../../src/store/events.js';

/** Stored incidents and events built by hand, for the pure postmortem tests. */

export const T0 = Date.UTC(2026, 10, 24, 3, 0, 0);
export const MINUTE = 60_000;

export function incidentRecord(over: Partial<IncidentRecord> = {}): IncidentRecord {
  return {
    id: 7,
    status: 'resolved',
    primarySubject: 'worker:cost-optimizer-worker',
    severity: 'critical',
    channel: 'C0ALERTS',
    title: '#7 worker cost-optimizer-worker: worker pods failing',
    firstBadAt: T0,
    openedAt: T0 + 5 * MINUTE,
    acknowledgedAt: null,
    acknowledgedBy: null,
    resolvedAt: null,
    resolvedBy: null,
    lastActivityAt: T0,
    correlation: null,
    stormId: null,
    ...over,
  };
}

export class EventBuilder {
  readonly events: TimelineEvent[] = [];
  add(at: number, type: string, summary: string, over: Partial<TimelineEvent> = {}): TimelineEvent {
    const event: TimelineEvent = { id: this.events.length + 1, at, type, subject: 'worker:cost-optimizer-worker', incidentId: 7, actor: null, summary, data: {}, ...over };
    this.events.push(event);
    return event;
  }
}
