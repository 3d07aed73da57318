import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import { createRequire } from 'node:module';
import type { Executor, Outcome } from './executor.js';
import { postgresWorkerSource } from './postgres-worker.js';
import { StoreError } from './errors.js';

type Answer = { id: number; rows: Record<string, unknown>[]; changes: number } | { id: number; error: string; code?: string; connectionLost: boolean };

/**
 * PostgreSQL behind the store's synchronous interface: a worker thread owns the `pg` connection,
 * and each statement blocks the main thread (`Atomics.wait`) until the worker answers.
 *
 * Why synchronous rather than async everywhere: every caller of the store (engine, commands,
 * watchers' sink, poster, runtime) would change, and the engine's one-transaction-per-observation
 * would need a queue to keep two observations from interleaving. Blocking gives that serial order
 * for free: the main thread is single-threaded, so while a transaction runs nothing else touches
 * the store. The cost is the event loop waiting for each round trip (well under a millisecond on
 * a LAN). A statement with no answer costs one `timeoutMs`; the worker then cuts the connection
 * and, until it has reconnected in the background, every call fails at once as a StoreError, so
 * the event loop (Socket Mode acks, the shutdown timer) keeps turning through an outage.
 */
export class PostgresExecutor implements Executor {
  readonly dialect = 'postgres';
  private readonly worker: Worker;
  private readonly port;
  private readonly signal = new Int32Array(new SharedArrayBuffer(4));
  private nextId = 0;
  private depth = 0;
  private closed = false;
  /** Why the last round trip failed for want of a connection, until one succeeds again. */
  private outage: string | undefined;

  constructor(
    url: string,
    /** How the URL is named in errors (without its password). */
    private readonly where: string,
    private readonly timeoutMs = 5000,
    /** `driftwatch audit`: every transaction of every connection is read-only. */
    readOnly = false,
  ) {
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const pgPath = createRequire(import.meta.url).resolve('pg');
    this.worker = new Worker(postgresWorkerSource, {
      eval: true,
      // Connecting takes milliseconds on a LAN; a short bound keeps an unreachable host from
      // holding the main thread for long (the worker then waits before trying again).
      workerData: { pgPath, port: port2, signal: this.signal, url, timeoutMs, readOnly, connectTimeoutMs: Math.min(2000, Math.max(500, timeoutMs - 500)) },
      transferList: [port2],
    });
    // Neither keeps the process alive: answers are read synchronously, never by an event.
    this.worker.unref();
    this.port.unref();
    this.worker.on('error', () => {}); // a dead worker shows as calls that time out
  }

  /** False while the server cannot be reached, so the health check reports the outage. */
  get open(): boolean {
    return !this.closed && this.outage === undefined;
  }

  execute(sql: string, parameters: readonly unknown[]): Outcome {
    return this.call(sql, parameters, this.depth > 0 ? 'in' : undefined);
  }

  transaction<T>(work: () => T): T {
    const before = this.depth;
    const outer = before === 0;
    const savepoint = `driftwatch_${before}`;
    this.call(outer ? 'BEGIN' : `SAVEPOINT ${savepoint}`, [], outer ? 'begin' : 'in');
    this.depth++;
    try {
      const result = work();
      if (result instanceof Promise) throw new TypeError('a store transaction cannot run asynchronous work');
      this.depth = before;
      this.call(outer ? 'COMMIT' : `RELEASE SAVEPOINT ${savepoint}`, [], outer ? 'end' : 'in');
      return result;
    } catch (error) {
      this.depth = before;
      try {
        this.call(outer ? 'ROLLBACK' : `ROLLBACK TO SAVEPOINT ${savepoint}; RELEASE SAVEPOINT ${savepoint}`, [], outer ? 'end' : 'in');
      } catch {
        // The connection is gone: the server has rolled the transaction back already.
      }
      throw error;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.port.postMessage({ close: true });
  }

  private call(sql: string, parameters: readonly unknown[], tx: 'begin' | 'in' | 'end' | undefined): Outcome {
    if (this.closed) throw new StoreError(`store ${this.where}: closed`);
    const id = ++this.nextId;
    // The worker refuses to start a call past its deadline (Date.now(): one clock for both threads).
    this.port.postMessage({ id, sql, parameters, tx, deadline: Date.now() + this.timeoutMs });
    const deadline = performance.now() + this.timeoutMs;
    for (;;) {
      // Reset before draining: an answer posted after the drain sets it again, so no wake-up is lost.
      Atomics.store(this.signal, 0, 0);
      for (let received = receiveMessageOnPort(this.port); received; received = receiveMessageOnPort(this.port)) {
        const answer = received.message as Answer;
        if (answer.id !== id) continue; // the late answer of a call that timed out
        if ('error' in answer) {
          if (answer.connectionLost) this.outage = answer.error;
          throw new StoreError(`store ${this.where}: ${answer.error}${answer.code ? ` (${answer.code})` : ''}`);
        }
        this.outage = undefined;
        return { rows: answer.rows, changes: answer.changes };
      }
      const left = deadline - performance.now();
      if (left <= 0) {
        this.port.postMessage({ reset: true, upTo: id });
        this.outage = 'no answer in time';
        throw new StoreError(`store ${this.where}: no answer within ${this.timeoutMs} ms; the connection is reset`);
      }
      Atomics.wait(this.signal, 0, 0, left);
    }
  }
}
