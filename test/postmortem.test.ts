/**
 * The postmortem that writes itself, end to end on the manual clock: the real Bolt app against
 * the fake Slack (users.info, file uploads), /worker pin against the fake apiserver and the real
 * registry, then the timeline, the whole-timeline file, the summary, its Markdown and its chart.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '@slack/bolt';
import { ManualClock } from '../src/domain/clock.js';
import { parseConfig } from '../src/config.js';
import { Runtime } from '../src/runtime.js';
import { createLogger } from '../src/log.js';
import { createSlackApp } from '../src/slack/app.js';
import { SlackService } from '../src/slack/service.js';
import { SlackPeople } from '../src/slack/people.js';
import { shortDigest } from '../src/domain/image-ref.js';
import { formatDuration, formatTime } from '../src/domain/duration.js';
import { summaryFigures } from '../src/incidents/summary.js';
import { chartModel } from '../src/incidents/chart.js';
import { chartLayout, laneColours } from '../src/incidents/chart-svg.js';
import { startFakeSlack, waitFor, type FakeFile, type FakeSlack } from './support/fake-slack.js';
import { startFakeApiserver, type FakeApiserver } from './support/fake-apiserver.js';
import { registryAvailable, registryUnavailableReason, startRegistry, type TestRegistry } from './support/registry.js';
import { decodePng } from './support/png.js';

const BOT = 'xoxb-4444-5555-postmortem-bot-token';
const APP = 'xapp-1-A0TEST-6666-postmortem-app-token';
const CHANNEL = 'C0ALERTS';
const LEAD = 'U0LEAD';
const ONCALL = 'U0ONCALL';
const WORKER = 'cost-optimizer-worker';
const MINUTE = 60_000;
const START = Date.UTC(2026, 10, 24, 3, 0, 0);

describe.skipIf(!registryAvailable())(`the postmortem of a whole incident${registryAvailable() ? '' : ` (skipped: ${registryUnavailableReason()})`}`, () => {
  let registry: TestRegistry;
  let kube: FakeApiserver;
  let fake: FakeSlack;
  let runtime: Runtime;
  let app: App;
  const clock = new ManualClock(START - 10 * MINUTE);
  let workerRef: string;
  let good: string;
  let bad: string;
  const workerSubject = `worker:${WORKER}`;

  beforeAll(async () => {
    registry = await startRegistry({ auth: 'none' });
    workerRef = `${registry.host}/confighubai/confighub-worker:latest`;
    good = (await registry.pushImage('confighubai/confighub-worker', 'latest', { seed: 'pm-good' })).digest;
    bad = (await registry.pushImage('confighubai/confighub-worker', 'latest', { seed: 'pm-bad' })).digest;
    kube = await startFakeApiserver();
    kube.failImage(workerRef, 'CrashLoopBackOff', 'failed to get bridge worker slug: 404');
    kube.seedWorker({ name: WORKER, image: workerRef, digest: bad, replicas: 1 });
    const dir = mkdtempSync(join(tmpdir(), 'dw-postmortem-'));
    const ca = Buffer.from(kube.ca).toString('base64');
    writeFileSync(
      join(dir, 'kubeconfig'),
      ['apiVersion: v1', 'kind: Config', 'clusters:', `- name: prod\n  cluster:\n    server: ${kube.url}\n    certificate-authority-data: ${ca}`, 'users:', `- name: bot\n  user:\n    token: ${kube.token}`, 'contexts:', '- name: prod-admin\n  context:\n    cluster: prod\n    user: bot', 'current-context: prod-admin', ''].join('\n'),
    );
    process.env.KUBECONFIG = join(dir, 'kubeconfig');
    fake = await startFakeSlack({ botToken: BOT, appToken: APP });
    fake.setUser({ id: LEAD, name: 'lena', real_name: 'Lena Lindqvist', display_name: 'Lena' });
    // Never set a display name: Slack sends "", and the real name stands in.
    fake.setUser({ id: ONCALL, name: 'omar', real_name: 'Omar Okafor', display_name: '' });
    runtime = new Runtime(
      parseConfig({
        slack: { channel: CHANNEL },
        store: { path: join(dir, 'db.sqlite') },
        clusters: [{ name: 'prod', context: 'prod-admin' }],
        registries: { [registry.host]: { insecure: true } },
        workers: [{ name: WORKER, cluster: 'prod' }],
        access: { 'worker pin': { users: [ONCALL] } },
        alerting: { failuresBeforeAlert: 2, recoveriesBeforeResolve: 2 },
      }),
      { clock, log: createLogger({ level: 'silent' }), poster: { baseBackoffMs: 100 } },
    );
    runtime.follower.configure({ pollMs: 25, timeoutMs: 15_000 });
    const created = createSlackApp(runtime, { mode: 'socket', botToken: BOT, appToken: APP, apiUrl: fake.apiUrl, port: 0 });
    app = created.app;
    runtime.startDelivery(new SlackService(created.client));
    await app.start();
  }, 30_000);

  afterAll(async () => {
    if (runtime) await runtime.follower.stopAll();
    await app?.stop().catch(() => {});
    await runtime?.stop(1000);
    await fake?.close();
    await kube?.close();
    await registry?.stop();
  });

  type Body = Record<string, unknown> & { text?: string; blocks?: Array<Record<string, unknown>> };
  async function slash(command: string, text: string, user = ONCALL): Promise<Body> {
    const before = fake.responses().length;
    await fake.sendEnvelope('slash_commands', fake.slashPayload({ command, text, user_id: user, channel_id: CHANNEL }));
    await waitFor(() => fake.responses().length > before, { what: `an answer to ${command} ${text}` });
    return fake.responses()[before]!.body as Body;
  }
  const textOf = (body: Body) => fake.messageText(body as never);
  let root: string | undefined;
  const rootTs = () => (root ??= fake.channel(CHANNEL).find((message) => message.text.startsWith(`#1 worker ${WORKER}`))!.ts);
  const threadFile = (name: string) => waitFor(() => fake.thread(CHANNEL, rootTs()).flatMap((reply) => reply.files ?? []).find((file: FakeFile) => file.name === name), { what: `${name} in the thread` });

  it('tag move → crash loop → ack → pin → rollout → recovery', async () => {
    const sink = runtime.sink();
    sink.state(workerSubject, 'spec', { containers: [{ name: 'worker', image: workerRef, imagePullPolicy: 'Always' }] });
    sink.tagDigest(workerRef, good, {});
    // Its pods ran the good digest while Ready for 10 minutes: that is the last good digest.
    sink.running(workerSubject, [{ pod: `${WORKER}-6d4f-abcde`, container: 'worker', image: workerRef, digest: good, ready: true }]);
    clock.advance(6 * MINUTE);
    sink.running(workerSubject, [{ pod: `${WORKER}-6d4f-abcde`, container: 'worker', image: workerRef, digest: good, ready: true }]);
    clock.advance(4 * MINUTE);
    // 03:00 the tag moves.
    sink.tagDigest(workerRef, bad, {});
    sink.notice({ subject: `image:${workerRef}`, kind: 'tag_moved', summary: `${workerRef} moved: ${shortDigest(good)} → ${shortDigest(bad)}`, lines: [`full: ${good} → ${bad}`], data: { from: good, to: bad } });
    // 03:02 the first crash, 03:03 the second opens the incident.
    clock.advance(2 * MINUTE);
    sink.running(workerSubject, [{ pod: `${WORKER}-7f8c-fghij`, container: 'worker', image: workerRef, digest: bad, ready: false }]);
    const crash = (restarts: number) => ({
      subject: workerSubject,
      problem: 'worker_pods_failing' as const,
      ok: false,
      summary: `CrashLoopBackOff, ${restarts} restarts`,
      detail: { restarts, digest: bad, fields: [['Image', workerRef], ['Runs', shortDigest(bad)], ['Pods', '1 of 1 failing']] as Array<[string, string]> },
    });
    sink.check(crash(1));
    clock.advance(MINUTE);
    sink.check(crash(2));
    await waitFor(() => runtime.store.outbox.byKey('inc-1-root')?.sentAt, { what: 'root delivered' });
    expect(rootTs()).toBeTruthy();
    // Every restart-count change is a machine update: 15 of them.
    for (let restarts = 3; restarts <= 17; restarts++) {
      clock.advance(20_000);
      sink.check(crash(restarts));
    }
    // 03:09 the lead acknowledges, then the room talks: 20 notes, unicode and a very long one among them.
    clock.advance(MINUTE);
    expect(textOf(await slash('/incident', 'ack #1', LEAD))).toContain('Acknowledged #1');
    clock.advance(MINUTE);
    expect(textOf(await slash('/incident', 'note #1 Rollback läuft — 日本語もOK ✅', LEAD))).toContain('Noted on #1');
    expect(textOf(await slash('/incident', `note #1 ${'very long note '.repeat(130)}`, LEAD))).toContain('Noted on #1');
    for (let index = 0; index < 18; index++) {
      clock.advance(1000);
      runtime.engine.note(1, index % 2 ? LEAD : 'U0SRE', `checking shard ${index}`);
    }
    // 03:12 on-call pins the last good digest; the rollout finishes.
    clock.advance(2 * MINUTE - 18_000);
    const preview = await slash('/worker', `pin ${WORKER}`);
    expect(textOf(preview)).toContain(`Pin worker ${WORKER} to ${shortDigest(good)}?`);
    const confirm = (preview.blocks ?? []).flatMap((block) => (block.elements as Array<{ action_id?: string; value?: string }> | undefined) ?? []).find((element) => element.action_id?.startsWith('dw_confirm_'))!;
    const before = fake.responses().length;
    await fake.sendEnvelope('interactive', fake.blockActionPayload({ user: ONCALL, channel: CHANNEL, message_ts: rootTs(), action_id: confirm.action_id!, value: confirm.value! }));
    await waitFor(() => fake.responses().length > before, { what: 'pin confirmed' });
    await waitFor(() => kube.pendingRollouts() === 1, { what: 'rollout pending' });
    kube.advanceRollouts();
    await waitFor(() => fake.thread(CHANNEL, rootTs()).some((reply) => reply.text.includes('Rollout finished')), { what: 'rollout finished' });
    // 03:14 the pods are Ready on the good digest; 03:15 again: resolved.
    clock.advance(2 * MINUTE);
    const pinned = `${registry.host}/confighubai/confighub-worker@${good}`;
    sink.running(workerSubject, [{ pod: `${WORKER}-8a9b-klmno`, container: 'worker', image: pinned, digest: good, ready: true }]);
    const recovered = { subject: workerSubject, problem: 'worker_pods_failing' as const, ok: true, summary: '1 pod Ready', detail: { fields: [['Image', pinned], ['Runs', shortDigest(good)], ['Pods', '1 of 1 Ready']] as Array<[string, string]> } };
    sink.check(recovered);
    clock.advance(MINUTE);
    sink.check(recovered);
    await waitFor(() => fake.thread(CHANNEL, rootTs()).some((reply) => reply.text.includes('Resolved after')), { what: 'resolution in the thread' });

    // The resolved root shows what runs now, not the crashing digest.
    await waitFor(() => fake.messageText(fake.message(CHANNEL, rootTs())!).startsWith('Resolved: #1'), { what: 'root updated' });
    const resolvedRoot = fake.messageText(fake.message(CHANNEL, rootTs())!);
    expect(resolvedRoot).toMatch(/Runs\*?\s+sha256:/);
    expect(resolvedRoot).toContain(shortDigest(good));
    expect(resolvedRoot).toMatch(/1 of 1 Ready/);
    expect(resolvedRoot).not.toMatch(/1 of 1 failing/);
  }, 60_000);

  it('the timeline answer keeps the newest events and counts the others; the file holds all of them', async () => {
    const events = runtime.store.events.forIncident(1);
    expect(events.length).toBeGreaterThan(40);
    const answer = await slash('/incident', 'timeline #1', LEAD);
    // What the reply's sections show (the fallback text repeats them).
    const text = (answer.blocks ?? []).map((block) => (block.text as { text?: string } | undefined)?.text ?? '').join('\n');
    const lines = text.split('\n');
    const earlier = /… (\d+) earlier events not shown/.exec(text);
    expect(earlier).not.toBeNull();
    const shownLines = lines.filter((line) => / \+\d/.test(line) && line.includes(' · '));
    expect(shownLines).toHaveLength(25);
    // The newest are there: the pin, the rollout's end, the recovery, the resolution.
    expect(text).toMatch(/· pin: 📌 Pinned worker/);
    expect(text).toMatch(/· resolved: resolved after 15m/);
    // Shown + earlier = every stored event: a collapsed line of machine chatter stands for its run.
    const standsFor = shownLines.reduce((sum, line) => sum + Number(/ · updates: .*?(\d+) updates/.exec(line)?.[1] ?? 1), 0);
    expect(Number(earlier![1]) + standsFor).toBe(events.length);
    expect(lines.at(-1)).toMatch(/resolved after 15m/);
    for (const block of answer.blocks ?? []) {
      const section = (block.text as { text?: string } | undefined)?.text;
      if (section) expect(section.length).toBeLessThanOrEqual(3000);
    }

    const before = fake.calls.filter((call) => call.method === 'files.completeUploadExternal').length;
    const all = textOf(await slash('/incident', 'timeline #1 all', LEAD));
    expect(all).toContain(`incident-1-timeline.txt (all ${events.length} events) goes into the incident's thread.`);
    const file = await threadFile('incident-1-timeline.txt');
    const fileLines = file.content.trimEnd().split('\n').slice(2);
    expect(fileLines).toHaveLength(events.length);
    expect(fileLines[0]).toMatch(/^2026-11-24 03:00:00 UTC {2}\+0s {2}tag moved: /);
    expect(fileLines.at(-1)).toMatch(/resolved: resolved after 15m/);
    expect(file.content).toContain('restarts');
    expect(file.content).toContain('Rollback läuft — 日本語もOK ✅ (Lena)');
    expect(file.content).not.toMatch(/U0LEAD|problem\.opened|notice\.tag_moved/);
    // Exactly once.
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(fake.calls.filter((call) => call.method === 'files.completeUploadExternal').length - before).toBe(1);
  });

  it('the summary: TTD/TTA/TTM/TTR from the stored events, names not ids, words not types, a Markdown file and a chart whose lanes show the spans', async () => {
    const incident = runtime.store.incidents.incident(1)!;
    const events = runtime.store.events.forIncident(1);
    const rootPostedAt = runtime.store.outbox.byKey('inc-1-root')!.sentAt;
    const figures = summaryFigures(incident, events, rootPostedAt);
    expect(figures).toMatchObject({
      firstBadSignal: START,
      detected: START + 3 * MINUTE,
      acknowledged: START + 9 * MINUTE,
      acknowledgedBy: LEAD,
      mitigated: START + 14 * MINUTE,
      resolved: START + 15 * MINUTE,
      ttdMs: 3 * MINUTE,
      ttaMs: 6 * MINUTE,
      ttmMs: 14 * MINUTE,
      ttrMs: 15 * MINUTE,
    });

    const text = textOf(await slash('/incident', 'summary #1', LEAD));
    for (const [label, ms] of [['TTD', figures.ttdMs], ['TTA', figures.ttaMs!], ['TTM', figures.ttmMs!], ['TTR', figures.ttrMs!]] as const) expect(text).toContain(`${label} ${formatDuration(ms)}`);
    expect(text).toContain('by Lena');
    expect(text).toContain('Omar Okafor');
    expect(text).not.toMatch(/U0LEAD|U0ONCALL/);
    expect(text).not.toMatch(/problem\.|notice\.|action\./);
    expect(text).toContain(`Digests: ${shortDigest(good)}, ${shortDigest(bad)}`);
    expect(text).not.toContain(good);
    expect(text).not.toContain('Versions: 127.0.0');

    const markdown = await threadFile('incident-1-summary.md');
    expect(markdown.content).toContain(`| Mitigated | ${formatTime(START + 14 * MINUTE, 'UTC')} | TTM 14m |`);
    expect(markdown.content).toContain('| Acknowledged | 2026-11-24 03:09:00 UTC by Lena | TTA 6m |');
    expect(markdown.content).toContain(`\`${good}\``);
    expect(markdown.content).not.toMatch(/@U0|problem\.opened|notice\.tag_moved/);

    const chart = await threadFile('incident-1-timeline.png');
    expect(chart.bytes.length).toBeLessThan(300 * 1024);
    const png = decodePng(chart.bytes);
    expect(png.width).toBeGreaterThanOrEqual(1200);
    // Where the lane is, from the same pure layout the product drew with.
    const nameOf = (id: string) => ({ [LEAD]: 'Lena', [ONCALL]: 'Omar Okafor' })[id] ?? id;
    const layout = chartLayout(chartModel(incident, events, { now: clock.now(), rootPostedAt, nameOf, formatTime: (at) => formatTime(at, 'UTC') }));
    expect(png.height).toBe(layout.height);
    const bar = layout.laneBars[0]!;
    const y = Math.round(bar.y + bar.height / 2);
    const [r, g, b] = [1, 3, 5].map((start) => parseInt(laneColours.bad.slice(start, start + 2), 16));
    let badPixels = 0;
    for (let x = Math.round(layout.plot.x0); x < Math.round(layout.plot.x1); x++) {
      const [pr, pg, pb] = png.pixel(x, y);
      if (Math.abs(pr - r!) < 8 && Math.abs(pg - g!) < 8 && Math.abs(pb - b!) < 8) badPixels++;
    }
    // Bad from the alert (03:03) to the first good look (03:14) of 15 minutes; mark lines take a few pixels.
    const share = badPixels / (Math.round(layout.plot.x1) - Math.round(layout.plot.x0));
    expect(Math.abs(share - 11 / 15)).toBeLessThan(0.02);
    // One upload each, through the outbox.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const names = fake.thread(CHANNEL, rootTs()).flatMap((reply) => reply.files ?? []).map((file) => file.name);
    expect(names.filter((name) => name === 'incident-1-timeline.png')).toHaveLength(1);
    expect(names.filter((name) => name === 'incident-1-summary.md')).toHaveLength(1);
  });

  it('names: cached for an hour, one call for concurrent look-ups; a rate-limited or hung users.info costs at most 1 s and leaves the raw id', async () => {
    const people = new SlackPeople(app.client);
    const calls = () => fake.callCount('users.info');
    const start = calls();
    expect(await Promise.all([people.displayName(LEAD), people.displayName(LEAD)])).toEqual(['Lena', 'Lena']);
    expect(await people.displayName(LEAD)).toBe('Lena');
    expect(calls() - start).toBe(1);

    fake.failNext('users.info', { status: 429, retryAfter: 30 });
    let started = performance.now();
    expect(await new SlackPeople(app.client).displayName('U0LIMITED')).toBe('U0LIMITED');
    expect(performance.now() - started).toBeLessThan(1000);

    fake.failNext('users.info', { hold: true });
    started = performance.now();
    expect(await new SlackPeople(app.client).displayName('U0HUNG')).toBe('U0HUNG');
    // Slack never answers this one: without the 1 s give-up the look-up would wait forever.
    expect(performance.now() - started).toBeLessThan(2500);
    fake.releaseHeld();

    // A summary while users.info is down answers with raw ids, no later than a second.
    fake.failAlways('users.info', { status: 500 });
    runtime.people = new SlackPeople(app.client);
    const text = textOf(await slash('/incident', 'summary #1', LEAD));
    expect(text).toContain('by U0LEAD');
    expect(text).toContain('TTM 14m');
    fake.heal();
  });
});
