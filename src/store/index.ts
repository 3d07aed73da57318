import { openDb, type Db } from './db.js';
import { EventLog } from './events.js';
import { SubjectStore } from './subjects.js';
import { DigestStore } from './digests.js';
import { IncidentStore } from './incidents.js';
import { Outbox } from './outbox.js';
import { AuditLog } from './audit.js';
import { ConfirmationStore } from './confirmations.js';
import { FollowStore } from './follows.js';

export { StoreError, passwordIn } from './db.js';

/** The spine: one database (a SQLite file or PostgreSQL), one module per table family. */
export class Store {
  readonly events: EventLog;
  readonly subjects: SubjectStore;
  readonly digests: DigestStore;
  readonly incidents: IncidentStore;
  readonly outbox: Outbox;
  readonly audit: AuditLog;
  readonly confirmations: ConfirmationStore;
  readonly follows: FollowStore;

  private constructor(readonly db: Db) {
    this.events = new EventLog(db);
    this.subjects = new SubjectStore(db);
    this.digests = new DigestStore(db);
    this.incidents = new IncidentStore(db);
    this.outbox = new Outbox(db);
    this.audit = new AuditLog(db);
    this.confirmations = new ConfirmationStore(db);
    this.follows = new FollowStore(db);
  }

  /**
   * `location`: a SQLite file path (`store.path`) or a `postgres://` URL (`store.url`, completed
   * by the PG* environment variables). `timeoutMs` bounds each PostgreSQL round trip.
   */
  static open(location: string, options: { timeoutMs?: number; readOnly?: boolean } = {}): Store {
    return new Store(openDb(location, options));
  }

  /** Runs `work` atomically: a crash leaves either all of it or none. */
  transaction<T>(work: () => T): T {
    return this.db.transaction(work);
  }

  /** Idempotent; not guarded by `db.open`, which is also false while PostgreSQL is out of reach. */
  close(): void {
    this.db.close();
  }
}
