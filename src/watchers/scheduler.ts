/**
 * Periodic tasks with jitter and no overlap. The jitter (at most 10% of the period, so many
 * watchers started together spread out) is drawn once per task, as its phase: runs then keep a
 * fixed rate on that phase. Jitter drawn again at every run would add up like a random walk, and
 * the checks of one period would spread further apart every cycle. A run that outlasts its period
 * skips the slots it missed instead of stacking up.
 */
export class Scheduler {
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;
  private readonly running = new Set<Promise<void>>();
  /** Every loop with its period and when its last run ended (the heartbeat's "has every loop cycled"). */
  private readonly cycles: Array<{ name: string; everyMs: number; lastCycleAt: number | undefined }> = [];

  constructor(
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Runs `task` after a jittered delay (up to 10% of `periodMs`) and then every `periodMs` on that phase. */
  every(periodMs: number, task: () => Promise<void>, onError: (error: unknown) => void = () => {}, name = `loop ${this.cycles.length + 1}`): void {
    const cycle: { name: string; everyMs: number; lastCycleAt: number | undefined } = { name, everyMs: periodMs, lastCycleAt: undefined };
    this.cycles.push(cycle);
    let due = this.now() + this.jitter(periodMs);
    const schedule = () => {
      if (this.stopped) return;
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        const run = task()
          .catch(onError)
          .finally(() => {
            this.running.delete(run);
            // A run that failed still completed its cycle: the loop is alive, its errors are reported elsewhere.
            cycle.lastCycleAt = this.now();
            due = nextSlot(due, periodMs, this.now());
            schedule();
          });
        this.running.add(run);
      }, Math.max(0, due - this.now()));
      timer.unref?.();
      this.timers.add(timer);
    };
    schedule();
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

/** The first slot `due + k·period` (k ≥ 1) that is not in the past. */
export function nextSlot(due: number, periodMs: number, now: number): number {
  const next = due + periodMs;
  if (next >= now) return next;
  return next + Math.ceil((now - next) / periodMs) * periodMs;
}
