/**
 * Versioned schema migrations, applied in order at start. A migration is never edited once
 * released: a change is a new entry. `user_version` holds how many have been applied.
 * These are SQLite's; each entry has its PostgreSQL spelling at the same index in
 * migrations-postgres.ts (table `driftwatch_schema` holds the count there).
 */
export const migrations: string[] = [
  `
  CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    subject TEXT NOT NULL,
    type TEXT NOT NULL,
    incident_id INTEGER,
    actor TEXT,
    summary TEXT NOT NULL,
    data TEXT NOT NULL DEFAULT '{}'
  );
  CREATE INDEX events_incident ON events(incident_id, at);
  CREATE INDEX events_subject ON events(subject, at);

  CREATE TABLE subject_state (
    subject TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (subject, key)
  );

  CREATE TABLE links (
    a TEXT NOT NULL,
    b TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (a, b, source)
  );
  CREATE INDEX links_b ON links(b);

  CREATE TABLE problems (
    subject TEXT NOT NULL,
    kind TEXT NOT NULL,
    severity TEXT NOT NULL,
    state TEXT NOT NULL,              -- ok | pending | alerting | recovering
    bad_streak INTEGER NOT NULL DEFAULT 0,
    good_streak INTEGER NOT NULL DEFAULT 0,
    first_bad_at INTEGER,
    last_at INTEGER NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '{}',
    incident_id INTEGER,
    PRIMARY KEY (subject, kind)
  );

  CREATE TABLE incidents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    status TEXT NOT NULL,             -- open | resolved
    primary_subject TEXT NOT NULL,
    severity TEXT NOT NULL,
    channel TEXT NOT NULL,
    title TEXT NOT NULL,
    first_bad_at INTEGER NOT NULL,
    opened_at INTEGER NOT NULL,
    acknowledged_at INTEGER,
    acknowledged_by TEXT,
    resolved_at INTEGER,
    resolved_by TEXT,
    last_activity_at INTEGER NOT NULL,
    correlation TEXT,
    storm_id INTEGER
  );
  CREATE INDEX incidents_status ON incidents(status, channel);

  CREATE TABLE incident_threads (
    incident_id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    ts TEXT NOT NULL
  );

  CREATE TABLE pending_notices (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    subject TEXT NOT NULL,
    waits_for TEXT NOT NULL,          -- the problem key (subject|kind) it waits on
    at INTEGER NOT NULL,
    message TEXT NOT NULL
  );

  CREATE TABLE outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    kind TEXT NOT NULL,               -- post | update
    incident_id INTEGER,              -- the thread a reply belongs to / the root an update targets
    role TEXT NOT NULL,               -- root | reply | message
    message TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending', -- pending | sent | failed | superseded
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    ts TEXT,
    error TEXT,
    created_at INTEGER NOT NULL,
    sent_at INTEGER
  );
  CREATE INDEX outbox_pending ON outbox(status, id);

  CREATE TABLE digests (
    ref TEXT NOT NULL,
    digest TEXT NOT NULL,
    platforms TEXT NOT NULL DEFAULT '{}',
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (ref, digest)
  );

  CREATE TABLE healthy_digests (
    subject TEXT NOT NULL,
    repository TEXT NOT NULL,
    digest TEXT NOT NULL,
    ready_since INTEGER NOT NULL,
    last_ready_at INTEGER NOT NULL,
    PRIMARY KEY (subject, repository, digest)
  );

  CREATE TABLE audit (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    before TEXT,
    after TEXT,
    result TEXT NOT NULL,
    incident_id INTEGER
  );

  CREATE TABLE mutes (
    subject TEXT PRIMARY KEY,
    until INTEGER NOT NULL,
    by TEXT NOT NULL
  );
  `,
  // Replies to a message that isn't an incident root (a command's "restarting relay" message).
  `ALTER TABLE outbox ADD COLUMN thread_of TEXT;`,
  // Delivery state: `in_doubt` = the last attempt's outcome is unknown (a timeout, 5xx or reset),
  // so the message is searched for before it is posted again; status `refused` = Slack refused it
  // for good (not_in_channel…), kept for when the bot joins. Rows tried before this are in doubt.
  `ALTER TABLE outbox ADD COLUMN in_doubt INTEGER NOT NULL DEFAULT 0;
   UPDATE outbox SET in_doubt = 1 WHERE status = 'pending' AND attempts > 0;`,
  // Several replicas: the term (Lease transitions) a row was last claimed under, for fencing;
  // pending confirmations and followed rollouts live here so a failover keeps them.
  `
  ALTER TABLE outbox ADD COLUMN claimed_term INTEGER;

  CREATE TABLE confirmations (
    id TEXT PRIMARY KEY,
    requester TEXT NOT NULL,
    request TEXT NOT NULL,
    preview TEXT NOT NULL,
    created_at INTEGER NOT NULL
  );

  CREATE TABLE rollout_follows (
    id TEXT PRIMARY KEY,
    job TEXT NOT NULL,
    started_at INTEGER NOT NULL,
    timeout_ms INTEGER
  );
  `,
];
