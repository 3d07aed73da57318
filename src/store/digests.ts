import { sql } from 'kysely';
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
  constructor(private readonly db: Db) {}

  /** Records that `ref` points at `digest` now. */
  saw(ref: string, digest: string, platforms: Record<string, string>, at: number): void {
    const { db } = this;
    // Keyed by the canonical spelling, so every way of writing a tag shares one history.
    db.run(
      db.q
        .insertInto('digests')
        .values({ ref: canonicalImage(ref), digest, platforms: JSON.stringify(platforms), first_seen: at, last_seen: at })
        .onConflict((conflict) => conflict.columns(['ref', 'digest']).doUpdateSet((row) => ({ last_seen: row.ref('excluded.last_seen'), platforms: row.ref('excluded.platforms') }))),
    );
  }

  /** The tag's digests, the current one first (ties: the one recorded last). */
  historyOf(ref: string): DigestSighting[] {
    const { db } = this;
    // Insertion order: SQLite's rowid; PostgreSQL has none, so its table carries `seq`.
    const inserted = db.dialect === 'sqlite' ? sql`rowid` : sql.ref('seq');
    return db
      .all(db.q.selectFrom('digests').select(['digest', 'platforms', 'first_seen', 'last_seen']).where('ref', '=', canonicalImage(ref)).orderBy('last_seen', 'desc').orderBy(inserted, 'desc'))
      .map((row) => ({ digest: row.digest, platforms: JSON.parse(row.platforms) as Record<string, string>, firstSeen: row.first_seen, lastSeen: row.last_seen }));
  }

  refs(): string[] {
    const { db } = this;
    return db.all(db.q.selectFrom('digests').select('ref').distinct().orderBy('ref')).map((row) => row.ref);
  }

  /** Pods of `subject` ran `digest` and were Ready at `at`. */
  ready(subject: string, repository: string, digest: string, at: number): void {
    const { db } = this;
    db.run(
      db.q
        .insertInto('healthy_digests')
        .values({ subject, repository, digest, ready_since: at, last_ready_at: at })
        .onConflict((conflict) => conflict.columns(['subject', 'repository', 'digest']).doUpdateSet((row) => ({ last_ready_at: row.ref('excluded.last_ready_at') }))),
    );
  }

  /** Pods of `subject` on `digest` are not Ready: forget a streak too short to count as healthy. */
  notReady(subject: string, repository: string, digest: string, healthyForMs: number): void {
    const { db } = this;
    db.run(
      db.q
        .deleteFrom('healthy_digests')
        .where('subject', '=', subject)
        .where('repository', '=', repository)
        .where('digest', '=', digest)
        .where((row) => row(row('last_ready_at', '-', row.ref('ready_since')), '<', healthyForMs)),
    );
  }

  healthyOf(repository: string): HealthyDigest[] {
    const { db } = this;
    return db
      .all(db.q.selectFrom('healthy_digests').selectAll().where('repository', '=', repository))
      .map((row) => ({ subject: row.subject, repository: row.repository, digest: row.digest, readySince: row.ready_since, lastReadyAt: row.last_ready_at }));
  }
}
