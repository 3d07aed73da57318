import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { shortDigest } from '../src/domain/image-ref.js';
import { startSandbox, WORKER, WORKER_NAMESPACE, SPACE, RELAY, type Sandbox } from '../src/sandbox/sandbox.js';
import { DemoStory, describePatch, type StoryTimers } from '../src/sandbox/story.js';

const cli = join(import.meta.dirname, '..', 'bin', 'driftwatch.js');

async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

/** Timers the test fires by hand: the story's schedule, without waiting for it. */
function manualTimers(): StoryTimers & { fire(): void; pending(): number } {
  let next = 0;
  const timeouts = new Map<number, () => void>();
  return {
    setTimeout: (fn) => (timeouts.set(++next, fn), next),
    clearTimeout: (handle) => void timeouts.delete(handle as number),
    setInterval: () => ++next, // the test calls tick() itself
    clearInterval: () => undefined,
    fire() {
      const due = [...timeouts.entries()];
      timeouts.clear();
      for (const [, fn] of due) fn();
    },
    pending: () => timeouts.size,
  };
}

/** A request over HTTPS to the sandbox apiserver, trusting only its own (demo) CA. */
function kube(sandbox: Sandbox, method: string, path: string, body?: unknown): Promise<{ status: number; text: string }> {
  const { apiserver } = sandbox;
  const headers: Record<string, string> = { authorization: `Bearer ${apiserver.token}` };
  if (body !== undefined) headers['content-type'] = 'application/strategic-merge-patch+json';
  return new Promise((resolve, reject) => {
    const req = request(`${apiserver.url}${path}`, { method, ca: apiserver.ca, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8').on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}
const kubeGet = async (sandbox: Sandbox, path: string) => (await kube(sandbox, 'GET', path)).text;
/** An SMP, as `/worker pin` sends it. */
const patch = async (sandbox: Sandbox, path: string, body: unknown) => (await kube(sandbox, 'PATCH', path, body)).status;

describe('demo sandbox and story (in process)', () => {
  let sandbox: Sandbox;
  const env: NodeJS.ProcessEnv = {};
  const said: string[] = [];
  const timers = manualTimers();
  let story: DemoStory;

  beforeAll(async () => {
    sandbox = await startSandbox({ env, rolloutMs: 100 });
    story = new DemoStory(sandbox, { say: (line) => said.push(line), timers, timings: { startMs: 50 } });
  });
  afterAll(async () => {
    story?.stop();
    await sandbox?.close();
  });

  it('starts where seeds 000 and 004 start, and hands Driftwatch a config wired to it', async () => {
    const { config, images, registry, apiserver } = sandbox;
    expect(env.KUBECONFIG).toBe(sandbox.kubeconfigPath);
    expect(env.DRIFTWATCH_DEMO_CONFIGHUB_TOKEN).toBe(sandbox.confighub.token);
    expect(config.console.user).toBe('U0DEMO');
    expect(config.access['worker pin']?.users).toEqual(['U0DEMO']);
    expect(config.workers[0]).toMatchObject({ name: WORKER, cluster: 'demo', namespace: 'confighub', space: SPACE });
    expect(config.endpoints[0]).toMatchObject({ name: 'relay-dfw1', versionHeader: 'X-Relay-Version', workload: 'demo/relay/DaemonSet/relay', expectFrom: { image: images.relayLatestRef } });
    expect(Object.values(config.registries)).toEqual([{ insecure: true }]);
    expect(registry.resolve('confighubai/confighub-worker', 'latest')).toBe(images.good.digest);
    const [pod] = apiserver.list('Pod', WORKER_NAMESPACE);
    expect(pod?.status?.containerStatuses?.[0]).toMatchObject({ ready: true, imageID: expect.stringContaining(images.good.digest) });
    expect(apiserver.list('Pod', 'relay')[0]?.spec?.containers?.[0]?.image).toBe(images.relayOldRef);

    // The registry answers the way Driftwatch's client asks: HEAD by tag with the digest header, the label in the config blob.
    const base = `http://${registry.host}/v2/clevertree/relay`;
    const head = await fetch(`${base}/manifests/latest`, { method: 'HEAD' });
    expect(head.headers.get('docker-content-digest')).toBe(images.relayNew.digest);
    const manifest = (await (await fetch(`${base}/manifests/${images.relayNew.digest}`)).json()) as { config: { digest: string } };
    const blob = (await (await fetch(`${base}/blobs/${manifest.config.digest}`)).json()) as { config: { Labels: Record<string, string> } };
    expect(blob.config.Labels['org.opencontainers.image.version']).toBe('0.2.0');
    const index = (await (await fetch(`http://${registry.host}/v2/confighubai/confighub-worker/manifests/latest`)).json()) as { mediaType: string; manifests: Array<{ platform: { architecture: string } }> };
    expect(index.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(index.manifests.map((child) => child.platform.architecture)).toEqual(['amd64', 'arm64']);
    const relayHead = await fetch(sandbox.relay.url, { method: 'HEAD' });
    expect(relayHead.status).toBe(200);
    expect(relayHead.headers.get('x-relay-version')).toBeNull();
  });

  it('plays seed 000: the tag moves, the rescheduled pod crash-loops with the 404 log, ConfigHub says Disconnected', async () => {
    const { apiserver, registry, images, confighub } = sandbox;
    story.start();
    expect(said.join('\n')).toContain('relay-dfw1 sends no X-Relay-Version header');
    timers.fire(); // the tag move is the story's first timer
    expect(registry.resolve('confighubai/confighub-worker', 'latest')).toBe(images.bad.digest);
    expect(said.join('\n')).toContain(`just moved ${shortDigest(images.good.digest)} → ${shortDigest(images.bad.digest)}`);
    timers.fire(); // the new pod pulls B and crashes
    const [pod] = apiserver.list('Pod', WORKER_NAMESPACE);
    expect(pod?.status?.containerStatuses?.[0]).toMatchObject({ ready: false, state: { waiting: { reason: 'CrashLoopBackOff' } }, imageID: expect.stringContaining(images.bad.digest) });
    const logs = await kubeGet(sandbox, `/api/v1/namespaces/${WORKER_NAMESPACE}/pods/${pod!.metadata.name}/log?container=worker&previous=true`);
    expect(logs).toContain('failed to get bridge worker slug: server returned status 404: 404 Not Found');
    story.tick();
    const worker = JSON.parse(await (await fetch(`${confighub.url}/api/space`, { headers: { authorization: `Bearer ${confighub.token}` } })).text()) as Array<{ Space: { SpaceID: string } }>;
    const listed = (await (await fetch(`${confighub.url}/api/space/${worker[0]!.Space.SpaceID}/bridge_worker`, { headers: { authorization: `Bearer ${confighub.token}` } })).json()) as Array<{ BridgeWorker: { Condition: string; LastSeenAt: string } }>;
    expect(listed[0]!.BridgeWorker).toMatchObject({ Condition: 'Disconnected', LastSeenAt: '0001-01-01T00:00:00Z' });
    expect(said.at(-1)).toContain(`/worker pin ${WORKER}`);
  });

  it('recovers when the worker is pinned back to A: narrates the PATCH, ConfigHub Ready, then the relay serves 0.2.0', async () => {
    const { apiserver, images, relay } = sandbox;
    const pinned = `${images.workerRef.slice(0, images.workerRef.lastIndexOf(':'))}@${images.good.digest}`;
    const status = await patch(sandbox, `/apis/apps/v1/namespaces/${WORKER_NAMESPACE}/deployments/${WORKER}`, { spec: { template: { spec: { containers: [{ name: 'worker', image: pinned }] } } } });
    expect(status).toBe(200);
    expect(said.at(-1)).toBe(`[demo] apiserver received PATCH deployments confighub/${WORKER} (strategic-merge-patch): worker image → ${images.workerRef.slice(0, images.workerRef.lastIndexOf(':'))}@${shortDigest(images.good.digest)} → 200`);
    await until('the pinned pod Ready', () => {
      const pods = apiserver.list('Pod', WORKER_NAMESPACE);
      return pods.length === 1 && pods[0]!.status?.conditions?.some((c: { type: string; status: string }) => c.type === 'Ready' && c.status === 'True');
    });
    story.tick();
    expect(story.currentPhase).toBe('recovered');
    timers.fire(); // the relay's pending apply
    expect(story.currentPhase).toBe('applying');
    await until('the relay rollout', () => apiserver.list('Pod', 'relay').some((pod) => pod.spec?.containers?.[0]?.image === images.relayNewRef && pod.status?.containerStatuses?.[0]?.ready));
    story.tick();
    expect(story.currentPhase).toBe('done');
    const served = await fetch(relay.url, { headers: { 'X-Relay-Branch': 'main' } });
    expect(served.headers.get(RELAY.header)).toBe('0.2.0');
  });

  it('describes JSON patches and restarts too', () => {
    expect(describePatch({ path: '/apis/apps/v1/namespaces/relay/daemonsets/relay', contentType: 'application/strategic-merge-patch+json', body: { spec: { template: { metadata: { annotations: { 'kubectl.kubernetes.io/restartedAt': '2025-12-06T14:20:00Z' } } } } } })).toBe(
      'daemonsets relay/relay (strategic-merge-patch): restart',
    );
    expect(describePatch({ path: '/apis/apps/v1/namespaces/x/deployments/y', contentType: 'application/json-patch+json', body: [{ op: 'replace', path: '/spec/replicas', value: 2 }] })).toBe('deployments x/y (json-patch): replace /spec/replicas = 2');
  });
});

/* ------------------------------------------------------------------------------------------ */

/** `unshare -n` gives the child a network namespace with only loopback: "no network" for real. */
function canIsolateNetwork(): boolean {
  const probe = spawnSync('unshare', ['-n', 'sh', '-c', 'ip link set lo up'], { stdio: 'ignore' });
  return probe.status === 0;
}

class DemoProcess {
  stdout = '';
  stderr = '';
  readonly exited: Promise<number | null>;
  constructor(readonly child: ChildProcess) {
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (this.stdout += chunk));
    child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }
  type(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }
  /** Waits until stdout after `from` matches. */
  async waitFor(pattern: RegExp, timeoutMs: number, from = 0): Promise<RegExpMatchArray & { end: number }> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const match = this.stdout.slice(from).match(pattern);
      if (match) return Object.assign(match, { end: from + match.index! + match[0].length });
      if (this.child.exitCode !== null) throw new Error(`demo exited (${this.child.exitCode}) before ${pattern}:\n${this.stdout}\n${this.stderr}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; stdout:\n${this.stdout}\nstderr:\n${this.stderr.slice(-3000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

describe('driftwatch demo (child process, no network)', () => {
  const isolated = canIsolateNetwork();
  let demo: DemoProcess | undefined;
  let cwd: string;

  beforeAll(() => {
    if (!existsSync(join(import.meta.dirname, '..', 'dist', 'sandbox', 'index.js'))) throw new Error('dist/ is not built: run `npm run build` (npm test does it in pretest)');
    if (!isolated) console.warn('demo.test: `unshare -n` is not available here, so the demo runs WITH the network; it still only talks to 127.0.0.1');
    cwd = mkdtempSync(join(tmpdir(), 'dw-demo-cwd-'));
  });
  afterEach(async () => {
    if (demo && demo.child.exitCode === null) {
      demo.child.kill('SIGKILL');
      await demo.exited;
    }
  });
  afterAll(() => rmSync(cwd, { recursive: true, force: true }));

  it(`plays both seed stories and pins the worker back${isolated ? ' (network namespace with loopback only)' : ' (unshare unavailable: plain spawn)'}`, { timeout: 120_000 }, async () => {
    const env = { PATH: process.env.PATH ?? '', HOME: cwd, LOG_LEVEL: 'warn' };
    const child = isolated
      ? spawn('unshare', ['-n', 'sh', '-c', 'ip link set lo up && exec "$0" "$1" demo', process.execPath, cli], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] })
      : spawn(process.execPath, [cli, 'demo'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    demo = new DemoProcess(child);

    const start = await demo.waitFor(/worker cost-optimizer-worker on (\S+):latest \((sha256:[0-9a-f]{8})\)/, 20_000);
    const [, repository, good] = start as unknown as [string, string, string];

    // Seed 004: the endpoint serves no version header while the image label says 0.2.0.
    const stale = await demo.waitFor(/🔴 #(\d+) endpoint relay-dfw1: stale deploy[\s\S]*?serves no X-Relay-Version header; expected 0\.2\.0/, 20_000);
    const staleId = stale[1]!;

    // Seed 000: the tag move, with both short digests…
    const moved = await demo.waitFor(new RegExp(`${escape(repository)}:latest moved: ${good} → (sha256:[0-9a-f]{8})`), 25_000);
    const bad = moved[1]!;
    expect(bad).not.toBe(good);
    // …and the worker incident naming the crash log line and the last good digest.
    const opened = await demo.waitFor(/🔴 #(\d+) worker cost-optimizer-worker: /, 20_000, moved.end);
    const workerId = opened[1]!;
    await demo.waitFor(new RegExp(`#${workerId} worker cost-optimizer-worker[\\s\\S]*?Last good digest: ${good}[\\s\\S]*?│ .*failed to get bridge worker slug: server returned status 404: 404 Not Found`), 45_000, opened.index);

    demo.type('/worker pin cost-optimizer-worker');
    const prompt = await demo.waitFor(new RegExp(`Pin worker cost-optimizer-worker to ${good}\\?[\\s\\S]*?Confirm\\? \\[y/N\\]`), 15_000, opened.end);
    demo.type('y');
    await demo.waitFor(new RegExp(`\\[demo\\] apiserver received PATCH deployments confighub/cost-optimizer-worker \\(strategic-merge-patch\\): worker image → ${escape(repository)}@${good}.* → 200`), 15_000, prompt.end);
    await demo.waitFor(new RegExp(`Pinned worker cost-optimizer-worker to ${good}`), 15_000, prompt.end);

    // The worker incident resolves in its thread and its root says so; the relay's late apply resolves the stale deploy.
    await demo.waitFor(new RegExp(`↳ in #${workerId}:\\n\\s+✅ Resolved after \\d`), 45_000, prompt.end);
    await demo.waitFor(new RegExp(`✅ Resolved: #${workerId} worker cost-optimizer-worker`), 5_000, prompt.end);
    await demo.waitFor(/\[demo\] relay-dfw1 now answers X-Relay-Version: 0\.2\.0/, 20_000, prompt.end);
    await demo.waitFor(new RegExp(`✅ Resolved: #${staleId} endpoint relay-dfw1: stale deploy`), 20_000, prompt.end);

    // The postmortem: figures with TTM, versions as versions (never the registry host), the chart.
    const before = demo.stdout.length;
    demo.type(`/incident summary #${workerId}`);
    await demo.waitFor(new RegExp(`Summary of #${workerId}[\\s\\S]*?TTM \\d`), 15_000, before);
    await demo.waitFor(new RegExp(`── incident-${workerId}-summary\\.md ──`), 15_000, before);
    await demo.waitFor(new RegExp(`── incident-${workerId}-timeline\\.png \\(\\d+ KB\\) ──`), 15_000, before);
    expect(demo.stdout.slice(before)).not.toMatch(/Versions: .*127\.0\.0/);
    expect(demo.stdout.slice(before)).not.toMatch(/problem\.opened|notice\.tag_moved/);

    demo.type('/version status');
    await demo.waitFor(/Version status[\s\S]*?svc relay\s+0\.2\.0\s+0\.2\.0\s+current/, 10_000, prompt.end);
    demo.type('quit');
    expect(await demo.exited).toBe(0);
    // Nothing tried to leave the machine: no name lookups, no unreachable networks.
    expect(demo.stderr).not.toMatch(/EAI_AGAIN|ENOTFOUND|ENETUNREACH/);
  });
});
