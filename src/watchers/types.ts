import type { CheckObservation, NoticeObservation, RunningContainer } from '../domain/model.js';

/**
 * What a watcher may do with what it sees: report checks and notices, record last-known state
 * and links. Watchers hold no alerting logic; the incident engine decides.
 */
export interface ObservationSink {
  check(observation: CheckObservation): void;
  notice(observation: NoticeObservation): void;
  /** Last-known state of a subject under `key` (served version, tag digest, pods…). */
  state(subject: string, key: string, value: unknown): void;
  links(subject: string, source: string, others: string[]): void;
  /** The digest a tag points at now; returns the previous one when it moved. */
  tagDigest(ref: string, digest: string, platforms: Record<string, string>): string | undefined;
  running(subject: string, containers: RunningContainer[]): void;
  /** Every subject's last-known state under `key` (e.g. which workloads use which image). */
  statesOf<T>(key: string): Array<{ subject: string; value: T; updatedAt: number }>;
  now(): number;
}

export interface Watcher {
  start(): void | Promise<void>;
  stop(): Promise<void>;
  /** Readiness parts this watcher owns (e.g. each cluster's watch state). */
  health?(): Record<string, { ok: boolean; detail?: string }>;
  /** Its watch and poll loops: each one's interval and when it last completed a cycle (the heartbeat needs every one recent). */
  loops?(): WatchLoop[];
}

export interface WatchLoop {
  name: string;
  everyMs: number;
  /** undefined: no cycle completed yet. */
  lastCycleAt: number | undefined;
}
