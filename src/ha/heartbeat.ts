/**
 * The dead-man's switch: the leader GETs `heartbeat.url` every `heartbeat.every` while it is
 * healthy, and stays silent otherwise, so the external monitor (healthchecks.io, Cronitor, …)
 * raises the alarm Driftwatch itself can't. The conditions are checked at every tick, so pings
 * stop at the first tick after one fails: within `every` (the contract allows 2 × `every`).
 */
import { request } from 'undici';
import { formatDuration } from '../domain/duration.js';
import { systemClock, type Clock } from '../domain/clock.js';
import { logger, type Logger } from '../log.js';
import { realTimers, type Timers } from './timers.js';

/** How old the oldest pending message may be before the bot counts as not delivering. */
export const MAX_PENDING_AGE_MS = 2 * 60_000;

export interface HeartbeatInputs {
  now: number;
  /** Every watch and poll loop: its interval and when it last completed a cycle (undefined: never yet). */
  loops: Array<{ name: string; everyMs: number; lastCycleAt: number | undefined }>;
  slackConnected: boolean;
  /** When the oldest message still waiting in the outbox was queued (undefined: none waiting). */
  oldestPendingAt: number | undefined;
}

/** Why the bot must not ping now, or undefined when it is healthy. Pure. */
export function heartbeatBlocker(inputs: HeartbeatInputs): string | undefined {
  for (const loop of inputs.loops) {
    if (loop.lastCycleAt === undefined) return `${loop.name}: no completed cycle yet`;
    const age = inputs.now - loop.lastCycleAt;
    if (age > 2 * loop.everyMs) return `${loop.name}: last completed cycle ${formatDuration(age)} ago (every ${formatDuration(loop.everyMs)})`;
  }
  if (!inputs.slackConnected) return 'slack: not connected';
  if (inputs.oldestPendingAt !== undefined) {
    const age = inputs.now - inputs.oldestPendingAt;
    if (age >= MAX_PENDING_AGE_MS) return `outbox: the oldest pending message waits for ${formatDuration(age)}`;
  }
  return undefined;
}

export interface HeartbeatOptions {
  url: string;
  everyMs: number;
  /** undefined when healthy, else why not (see heartbeatBlocker). */
  blocker: () => string | undefined;
  /** Whether this replica leads; without `ha`, always true. */
  leading: () => boolean;
  timeoutMs?: number;
  clock?: Clock;
  timers?: Timers;
  log?: Logger;
}

export interface HeartbeatStatus {
  /** Why it is silent, or undefined while it pings. */
  silentBecause: string | undefined;
  lastPingAt: number | undefined;
  /** The current streak's failure, e.g. `heartbeat hc-ping.com: 503 on GET`. */
  failing: string | undefined;
  /** A ping is waiting for its answer. */
  inFlight: boolean;
}


export class Heartbeat {
  private readonly clock: Clock;
  private readonly timers: Timers;
  private readonly log: Logger;
  private readonly timeoutMs: number;
  private readonly label: string;
  private timer: unknown;
  private running = false;
  private inFlight = false;
  private silentBecause: string | undefined = 'not started';
  private lastPingAt: number | undefined;
  private failing: string | undefined;

  constructor(private readonly options: HeartbeatOptions) {
    this.clock = options.clock ?? systemClock;
    this.timers = options.timers ?? realTimers;
    this.timeoutMs = options.timeoutMs ?? 10_000;
    // The URL's path is often the monitor's secret (hc-ping.com/<uuid>): log the host only.
    this.label = `heartbeat ${new URL(options.url).host}`;
    this.log = (options.log ?? logger()).child({ component: 'heartbeat' });
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.tick();
  }

  stop(): void {
    this.running = false;
    this.timers.clearTimeout(this.timer);
  }

  status(): HeartbeatStatus {
    return { silentBecause: this.silentBecause, lastPingAt: this.lastPingAt, failing: this.failing, inFlight: this.inFlight };
  }

  private tick(): void {
    if (!this.running) return;
    this.timer = this.timers.setTimeout(() => this.tick(), this.options.everyMs);
    const leading = this.options.leading();
    const reason = leading ? this.options.blocker() : 'standby (another replica leads)';
    if (reason !== this.silentBecause) {
      if (reason === undefined) this.log.info(`${this.label}: pinging every ${formatDuration(this.options.everyMs)}`);
      else if (leading) this.log.warn(`${this.label}: silent: ${reason}`);
      else this.log.info(`${this.label}: silent: ${reason}`);
      this.silentBecause = reason;
    }
    // A ping still waiting for its answer is enough: don't pile up requests on a slow monitor.
    if (reason !== undefined || this.inFlight) return;
    void this.ping();
  }

  private async ping(): Promise<void> {
    this.inFlight = true;
    let failure: string | undefined;
    try {
      const answer = await request(this.options.url, { method: 'GET', signal: AbortSignal.timeout(this.timeoutMs) });
      await answer.body.dump();
      if (answer.statusCode >= 400) failure = `${this.label}: ${answer.statusCode} on GET`;
    } catch (error) {
      const name = (error as { name?: string }).name;
      failure = `${this.label}: ${name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : ((error as { code?: string }).code ?? (error as Error).message)} on GET`;
    }
    if (failure === undefined) {
      this.lastPingAt = this.clock.now();
      if (this.failing) this.log.info(`${this.label}: pings answered again`);
      this.failing = undefined;
    } else {
      // Once per streak: a monitor that is down for an hour is one log line, not sixty.
      if (!this.failing) this.log.warn(failure);
      this.failing = failure;
    }
    this.inFlight = false;
  }
}
