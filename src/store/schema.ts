import type { Generated } from 'kysely';

/**
 * The tables as the typed query builder sees them (snake_case, as stored). Epoch-millisecond
 * columns are numbers on both dialects (BIGINT on PostgreSQL, read back as numbers); JSON lives in
 * TEXT columns so both dialects store the same bytes.
 */
export interface Database {
  events: {
    id: Generated<number>;
    at: number;
    subject: string;
    type: string;
    incident_id: number | null;
    actor: string | null;
    summary: string;
    data: string;
  };
  subject_state: { subject: string; key: string; value: string; updated_at: number };
  links: { a: string; b: string; source: string };
  problems: {
    subject: string;
    kind: string;
    severity: string;
    state: string;
    bad_streak: number;
    good_streak: number;
    first_bad_at: number | null;
    last_at: number;
    summary: string;
    detail: string;
    incident_id: number | null;
  };
  incidents: {
    id: Generated<number>;
    status: string;
    primary_subject: string;
    severity: string;
    channel: string;
    title: string;
    first_bad_at: number;
    opened_at: number;
    acknowledged_at: number | null;
    acknowledged_by: string | null;
    resolved_at: number | null;
    resolved_by: string | null;
    last_activity_at: number;
    correlation: string | null;
    storm_id: number | null;
  };
  incident_threads: { incident_id: number; channel: string; ts: string };
  pending_notices: { id: Generated<number>; subject: string; waits_for: string; at: number; message: string };
  outbox: {
    id: Generated<number>;
    key: string;
    channel: string;
    kind: string;
    incident_id: number | null;
    role: string;
    thread_of: string | null;
    message: string;
    status: Generated<string>;
    attempts: Generated<number>;
    in_doubt: Generated<number>;
    next_attempt_at: Generated<number>;
    ts: string | null;
    error: string | null;
    created_at: number;
    sent_at: number | null;
    /** The leader's term (Lease transitions) of the last claim; null without `ha` or before any. */
    claimed_term: number | null;
  };
  digests: { ref: string; digest: string; platforms: string; first_seen: number; last_seen: number };
  healthy_digests: { subject: string; repository: string; digest: string; ready_since: number; last_ready_at: number };
  audit: {
    id: Generated<number>;
    at: number;
    actor: string;
    action: string;
    target: string;
    before: string | null;
    after: string | null;
    result: string;
    incident_id: number | null;
  };
  mutes: { subject: string; until: number; by: string };
  /** Plans waiting for their requester's Confirm: the command that made them (JSON) and its preview (JSON). */
  confirmations: { id: string; requester: string; request: string; preview: string; created_at: number };
  /** Rollouts being followed: the job (JSON), when following began, its time limit. */
  rollout_follows: { id: string; job: string; started_at: number; timeout_ms: number | null };
}
