/**
 * Periodic tasks with jitter (at most 10% of the period, so many watchers started together
 * spread out) and no overlap: a run that outlasts its period delays the next one instead of
 * stacking up.
 */
export class Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly running = new Set<Promise<void>>();
  /** Every loop with its period and when its last run ended (the heartbeat's "has every loop cycled"). */
  private readonly cycles: Array<{ name: string; everyMs: number; lastCycleAt: number | undefined }> = [];

  constructor(private readonly random: () => number = Math.random) {}

  /** Runs `task` now (after a jittered delay up to 10% of `periodMs`) and then every `periodMs`. */
  every(periodMs: number, task: () => Promise<void>, onError: (error: unknown) => void = () => {}, name = `loop ${this.cycles.length + 1}`): void {
    const cycle: { name: string; everyMs: number; lastCycleAt: number | undefined } = { name, everyMs: periodMs, lastCycleAt: undefined };
    this.cycles.push(cycle);
    const schedule = (delay: number) => {
      if (this.stopped) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const started = Date.now();
        const run = task()
          .catch(onError)
          .finally(() => {
            this.running.delete(run);
            // A run that failed still completed its cycle: the loop is alive, its errors are reported elsewhere.
            cycle.lastCycleAt = Date.now();
            const elapsed = Date.now() - started;
            schedule(Math.max(0, periodMs - elapsed) + this.jitter(periodMs));
          });
        this.running.add(run);
      }, delay);
      timer.unref?.();
      this.timers.add(timer);
    };
    schedule(this.jitter(periodMs));
  }

  /** Each loop, its period and when it last completed a run (undefined: not yet). */
  loops(): Array<{ name: string; everyMs: number; lastCycleAt: number | undefined }> {
    return this.cycles.map((cycle) => ({ ...cycle }));
  }

  private jitter(periodMs: number): number {
    return Math.floor(this.random() * periodMs * 0.1);
  }

  /** Stops scheduling and waits for runs in flight. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    await Promise.allSettled([...this.running]);
  }
}
