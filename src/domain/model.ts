/** What watchers report and what the incident engine decides over. */

export type Severity = 'critical' | 'warning';

/** Problems open or join incidents (DESIGN.md, incident model). */
export const problemKinds = {
  worker_pods_failing: { severity: 'critical', label: 'worker pods failing' },
  worker_disconnected: { severity: 'critical', label: 'worker not Ready in ConfigHub' },
  workload_failing: { severity: 'critical', label: 'workload failing' },
  workload_missing: { severity: 'critical', label: 'workload not found' },
  rollout_stuck: { severity: 'critical', label: 'rollout stuck' },
  endpoint_stale: { severity: 'critical', label: 'stale deploy' },
  endpoint_down: { severity: 'critical', label: 'endpoint down' },
  split_fleet: { severity: 'critical', label: 'split fleet' },
  cors_failing: { severity: 'critical', label: 'CORS preflight failing' },
  tls_invalid: { severity: 'critical', label: 'TLS certificate invalid' },
  cluster_unreachable: { severity: 'critical', label: 'cluster API unreachable' },
  confighub_unreachable: { severity: 'critical', label: 'ConfigHub unreachable' },
  tls_expiring: { severity: 'warning', label: 'TLS certificate expiring soon' },
  registry_failing: { severity: 'warning', label: 'registry check failing' },
} as const satisfies Record<string, { severity: Severity; label: string }>;

export type ProblemKind = keyof typeof problemKinds;

/** Notices never open an incident. */
export type NoticeKind =
  | 'tag_moved'
  | 'version_changed'
  | 'rollout_started'
  | 'rollout_finished'
  | 'rollout_failed'
  | 'pinned'
  | 'unpinned'
  | 'muted'
  | 'pinned_tag_moved';

export interface ProblemDetail {
  /** Label/value facts for the root message, e.g. ["Image", "ghcr.io/…:latest"]. */
  fields?: Array<[string, string]>;
  /** Verbatim lines (crash log), already redacted. */
  quote?: string[];
  [key: string]: unknown;
}

/** One look at one condition of one subject: good or bad. */
export interface CheckObservation {
  subject: string;
  problem: ProblemKind;
  ok: boolean;
  at?: number;
  /** One line a responder reads first: "CrashLoopBackOff, 4 restarts". */
  summary: string;
  detail?: ProblemDetail;
  /**
   * The watcher already applied a time bound of its own (cluster `unreachableAfter`), so one
   * bad observation is enough.
   */
  immediate?: boolean;
  /** A good observation that ends the problem at once, for this reason (the workload was deleted): no recovery streak. */
  ended?: 'deleted';
}

export interface NoticeObservation {
  subject: string;
  kind: NoticeKind;
  at?: number;
  summary: string;
  lines?: string[];
  data?: Record<string, unknown>;
  /** Recorded on the timeline only (e.g. an index digest moved but not our platforms). */
  quiet?: boolean;
  /** A human did this (pin, unpin): the first human action acknowledges. */
  actor?: string;
  /** With no incident to thread under: reply to this earlier standalone message (its key). */
  replyTo?: string;
}

export type ProblemState = 'ok' | 'pending' | 'alerting' | 'recovering';

export interface ProblemRecord {
  subject: string;
  kind: ProblemKind;
  severity: Severity;
  state: ProblemState;
  badStreak: number;
  goodStreak: number;
  firstBadAt: number | null;
  lastAt: number;
  summary: string;
  detail: ProblemDetail;
  incidentId: number | null;
}

export interface IncidentRecord {
  id: number;
  status: 'open' | 'resolved';
  primarySubject: string;
  severity: Severity;
  channel: string;
  title: string;
  firstBadAt: number;
  openedAt: number;
  acknowledgedAt: number | null;
  acknowledgedBy: string | null;
  resolvedAt: number | null;
  resolvedBy: string | null;
  lastActivityAt: number;
  correlation: Correlation | null;
  stormId: number | null;
}

/** The tag move that preceded a failure, and what to pin back to. */
export interface Correlation {
  tagMove?: { ref: string; from: string; to: string; at: number };
  lastGood?: { digest: string; repository: string; source: LastGoodSource };
}

export type LastGoodSource = 'own pods' | 'other workloads' | 'registry history';

export interface Thresholds {
  failuresBeforeAlert: number;
  recoveriesBeforeResolve: number;
}

/** A container's image as it runs: what the kube watcher reports for last-good bookkeeping and `/version status`. */
export interface RunningContainer {
  pod: string;
  container: string;
  image: string;
  digest?: string;
  ready: boolean;
}

/** A digest a subject's pods ran while Ready, and for how long (last-good bookkeeping). */
export interface HealthyDigest {
  subject: string;
  repository: string;
  digest: string;
  readySince: number;
  lastReadyAt: number;
}
