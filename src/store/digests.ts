import type { Db } from './db.js';
import type { HealthyDigest } from '../domain/model.js';
import { canonicalImage } from '../domain/image-ref.js';

export interface DigestSighting {
  digest: string;
  platforms: Record<string, string>;
  firstSeen: number;
  lastSeen: number;
}

/** Digest history per tag, and the digests workloads ran while healthy. */
export class DigestStore {
  private readonly upsertSighting;
  private readonly history;
  private readonly upsertHealthy;
  private readonly healthyOfRepo;
  private readonly dropHealthy;
  private readonly allRefs;
  constructor(db: Db) {
    this.upsertSighting = db.prepare(
      'INSERT INTO digests (ref, digest, platforms, first_seen, last_seen) VALUES (?, ?, ?, ?, ?) ON CONFLICT(ref, digest) DO UPDATE SET last_seen = excluded.last_seen, platforms = excluded.platforms',
    );
    this.history = db.prepare<[string], { digest: string; platforms: string; first_seen: number; last_seen: number }>(
      'SELECT digest, platforms, first_seen, last_seen FROM digests WHERE ref = ? ORDER BY last_seen DESC, rowid DESC',
    );
    this.upsertHealthy = db.prepare(
      'INSERT INTO healthy_digests (subject, repository, digest, ready_since, last_ready_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT(subject, repository, digest) DO UPDATE SET last_ready_at = excluded.last_ready_at',
    );
    this.healthyOfRepo = db.prepare<[string], { subject: string; repository: string; digest: string; ready_since: number; last_ready_at: number }>(
      'SELECT * FROM healthy_digests WHERE repository = ?',
    );
    this.dropHealthy = db.prepare('DELETE FROM healthy_digests WHERE subject = ? AND repository = ? AND digest = ? AND last_ready_at - ready_since < ?');
    this.allRefs = db.prepare<[], { ref: string }>('SELECT DISTINCT ref FROM digests ORDER BY ref');
  }

  /** Records that `ref` points at `digest` now. */
  saw(ref: string, digest: string, platforms: Record<string, string>, at: number): void {
    // Keyed by the canonical spelling, so every way of writing a tag shares one history.
    this.upsertSighting.run(canonicalImage(ref), digest, JSON.stringify(platforms), at, at);
  }

  /** The tag's digests, the current one first. */
  historyOf(ref: string): DigestSighting[] {
    return this.history.all(canonicalImage(ref)).map((row) => ({ digest: row.digest, platforms: JSON.parse(row.platforms) as Record<string, string>, firstSeen: row.first_seen, lastSeen: row.last_seen }));
  }

  refs(): string[] {
    return this.allRefs.all().map((row) => row.ref);
  }

  /** Pods of `subject` ran `digest` and were Ready at `at`. */
  ready(subject: string, repository: string, digest: string, at: number): void {
    this.upsertHealthy.run(subject, repository, digest, at, at);
  }

  /** Pods of `subject` on `digest` are not Ready: forget a streak too short to count as healthy. */
  notReady(subject: string, repository: string, digest: string, healthyForMs: number): void {
    this.dropHealthy.run(subject, repository, digest, healthyForMs);
  }

  healthyOf(repository: string): HealthyDigest[] {
    return this.healthyOfRepo.all(repository).map((row) => ({ subject: row.subject, repository: row.repository, digest: row.digest, readySince: row.ready_since, lastReadyAt: row.last_ready_at }));
  }
}
