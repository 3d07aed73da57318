/**
 * `driftwatch demo`: the sandbox and its story, for cli.ts to put the console in front of.
 * Only cli.ts imports this folder (DESIGN.md); everything here uses production dependencies.
 */
import { subjectOf } from '../domain/subjects.js';
import { startSandbox, WORKER, type Sandbox, type SandboxOptions } from './sandbox.js';
import { DemoStory, type StoryTimers, type StoryTimings } from './story.js';

export interface Demo {
  sandbox: Sandbox;
  story: DemoStory;
  banner: string;
  /** Stops the story and every sandbox server, and removes its temp folder. */
  close(): Promise<void>;
}

export interface DemoOptions extends SandboxOptions {
  say?: (line: string) => void;
  timings?: Partial<StoryTimings>;
  timers?: StoryTimers;
}

export function demoBanner(): string {
  return [
    'Driftwatch demo — the console bot against a built-in sandbox (no network, nothing to set up).',
    'It replays two real incidents: a :latest tag moving under a ConfigHub worker (seed 000), and a',
    'deploy that never reached the cluster, so the endpoint serves the old version (seed 004).',
    `You are U0DEMO and may pin workers. Try: /version status   /incident list   /worker pin ${WORKER}   help   quit`,
    '',
  ].join('\n');
}

/** Starts the sandbox and sets the story up (call `story.start()` once the console listens). */
export async function startDemo(options: DemoOptions = {}): Promise<Demo> {
  const sandbox = await startSandbox(options);
  const say = options.say ?? ((line: string) => process.stdout.write(`${line}\n`));
  const story = new DemoStory(sandbox, { say, ...(options.timings ? { timings: options.timings } : {}), ...(options.timers ? { timers: options.timers } : {}) });
  return {
    sandbox,
    story,
    banner: demoBanner(),
    async close() {
      story.stop();
      await sandbox.close();
    },
  };
}

/**
 * With no one at the keyboard (stdin closed, as in `npm start </dev/null`), the demo plays on by
 * itself: it types the pin the on-call engineer would, once the worker's incident is open, and
 * ends when both stories are over.
 */
export async function autopilot(
  demo: Demo,
  options: { openIncidents: () => string[]; type: (line: string) => Promise<void>; say: (text: string) => void; timeoutMs?: number },
): Promise<void> {
  options.say(`[demo] no input: playing on by itself; it pins ${WORKER} when its incident opens.\n`);
  const deadline = Date.now() + (options.timeoutMs ?? 150_000);
  let pinned = false;
  // Over when the story is and its incidents have resolved.
  while (Date.now() < deadline && (demo.story.currentPhase !== 'done' || options.openIncidents().length > 0)) {
    if (!pinned && demo.story.currentPhase === 'broken' && options.openIncidents().includes(subjectOf.worker(WORKER))) {
      for (const line of [`/worker pin ${WORKER}`, 'y']) {
        options.say(`> ${line}\n`);
        await options.type(line);
      }
      pinned = true;
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
