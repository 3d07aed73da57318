/** What a statement gave back: its rows (a RETURNING clause's too) and how many rows it changed. */
export interface Outcome {
  rows: Record<string, unknown>[];
  changes: number;
}

/**
 * Runs compiled SQL on one dialect, synchronously. The store's modules build each query once with
 * Kysely and hand the compiled text here, so SQLite and PostgreSQL share one code path.
 */
export interface Executor {
  readonly dialect: 'sqlite' | 'postgres';
  /** Whether it can be used: false once closed, and on PostgreSQL while the server is out of reach. */
  readonly open: boolean;
  execute(sql: string, parameters: readonly unknown[]): Outcome;
  /** Runs `work` atomically; nested calls become savepoints. `work` must be synchronous. */
  transaction<T>(work: () => T): T;
  close(): void;
}
