/**
 * The registry webhooks on the web server: each configured hook verifies a delivery (401, 415,
 * 400 — the body limit answered 413 before), answers 202, and then asks the registry watcher to
 * HEAD every watched tag the delivery names. The payload's digest never posts anything itself.
 */
import { createHash } from 'node:crypto';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Counter, Gauge } from 'prom-client';
import type { Config } from '../../config.js';
import { registerSecret, type Logger } from '../../log.js';
import type { Metrics } from '../../metrics.js';
import { shortDigest } from '../../domain/image-ref.js';
import type { ReadinessCheck } from '../health.js';
import { verifyDockerHubDelivery } from './dockerhub.js';
import { verifyGhcrDelivery } from './ghcr.js';
import { verifyRegistryDelivery } from './registry.js';
import type { HookVerdict } from './verdict.js';
import { WatchedTags, type TagCheck } from './watched-tags.js';

export type HookName = 'registry' | 'ghcr' | 'dockerhub';

/** What the hooks need of the registry watcher. */
export interface TagChecker {
  /** The watched tags, by canonical ref; replaced (not changed) when the list changes. */
  watching(): ReadonlyMap<string, { ref: string }>;
  /** HEADs the tag now (single-flight per tag); resolves to the digest served, if any. */
  checkNow(ref: string): Promise<string | undefined>;
}

export interface HooksDeps {
  webhooks: Config['webhooks'];
  registries: Config['registries'];
  env: NodeJS.ProcessEnv;
  /** Undefined when nothing is watched: deliveries are still verified and answered. */
  checker: TagChecker | undefined;
  metrics: Metrics;
  log: Logger;
  /** Wall clock (ms) for "last valid event"; default Date.now. */
  now?: () => number;
}

export interface Hooks {
  /** The configured hooks (`webhook:<name>`) and when each last received a valid delivery. */
  readiness(): Record<string, ReadinessCheck>;
}

/** How long and how many GitHub deliveries (ids and body hashes) are remembered to refuse a replay. */
const DELIVERY_MEMORY_MS = 24 * 3_600_000;
const DELIVERY_MEMORY_MAX = 10_000;
/** When a payload names a digest the registry doesn't serve yet, look again after these delays (1.7 s in all). */
export const RECHECK_DELAYS_MS = [10, 40, 150, 500, 1000];
/** At most one warning per hook and refusal kind in this time; the metric counts all of them. */
const REFUSAL_LOG_EVERY_MS = 60_000;

/** The secret of each configured hook, read from its variable (and registered for redaction). */
export function hookSecrets(webhooks: Config['webhooks'], env: NodeJS.ProcessEnv): Partial<Record<HookName, { variable: string; value: string | undefined }>> {
  const out: Partial<Record<HookName, { variable: string; value: string | undefined }>> = {};
  const entries: Array<[HookName, string | undefined]> = [
    ['registry', webhooks.registry?.tokenEnv],
    ['ghcr', webhooks.ghcr?.secretEnv],
    ['dockerhub', webhooks.dockerhub?.tokenEnv],
  ];
  for (const [name, variable] of entries) {
    if (variable === undefined) continue;
    const value = env[variable] || undefined;
    registerSecret(value);
    out[name] = { variable, value };
  }
  return out;
}

export function registerHooks(app: FastifyInstance, deps: HooksDeps): Hooks {
  const now = deps.now ?? Date.now;
  const log = deps.log;
  const secrets = hookSecrets(deps.webhooks, deps.env);
  const names = Object.keys(secrets) as HookName[];
  for (const name of names) {
    if (secrets[name]!.value === undefined) log.warn(`webhooks.${name}: ${secrets[name]!.variable} is not set; every delivery to this hook is refused (401)`);
  }

  const requests = new Counter({ name: 'driftwatch_webhook_requests_total', help: 'Webhook deliveries by hook and outcome', labelNames: ['hook', 'outcome'], registers: [deps.metrics.registry] });
  const lastValid = new Gauge({ name: 'driftwatch_webhook_last_valid_timestamp_seconds', help: 'When each hook last received a valid delivery (0: never)', labelNames: ['hook'], registers: [deps.metrics.registry] });
  const lastValidAt = new Map<HookName, number>();
  for (const name of names) lastValid.set({ hook: name }, 0);
  const deliveries = new DeliveryMemory(DELIVERY_MEMORY_MS, DELIVERY_MEMORY_MAX);
  const lastRefusalLog = new Map<string, number>();

  let tags: { from: ReadonlyMap<string, { ref: string }> | undefined; watched: WatchedTags } = { from: undefined, watched: new WatchedTags([]) };
  const urls = Object.fromEntries(Object.entries(deps.registries).map(([name, entry]) => [name, entry.url]));
  /** The watch list as matchable tags, rebuilt only when the watcher's list changed. */
  const watched = (): WatchedTags => {
    const current = deps.checker?.watching();
    if (current !== tags.from) tags = { from: current, watched: new WatchedTags([...(current?.values() ?? [])].map((image) => image.ref), urls) };
    return tags.watched;
  };

  const check = (name: HookName, { ref, digest }: TagCheck) => {
    const checker = deps.checker;
    if (!checker) return;
    void (async () => {
      let served = await checker.checkNow(ref);
      // distribution posts the event before it links the tag, so a HEAD right away can still
      // see the old digest (or 404 for a new tag): look again a few times before concluding.
      for (const delayMs of digest === undefined ? [] : RECHECK_DELAYS_MS) {
        if (served === digest) break;
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        served = await checker.checkNow(ref);
      }
      if (served === undefined) log.debug({ hook: name, image: ref }, `webhook check of ${ref}: the registry check failed; nothing posted`);
      else if (digest !== undefined && digest !== served) {
        log.debug({ hook: name, image: ref, named: digest, served }, `webhook named ${shortDigest(digest)} for ${ref}, but the registry serves ${shortDigest(served)}; the payload's digest alone posts nothing`);
      } else log.debug({ hook: name, image: ref, served }, `webhook check of ${ref}: the registry serves ${shortDigest(served)}`);
    })().catch((error: unknown) => log.error({ err: error, hook: name, image: ref }, 'webhook check crashed'));
  };

  /**
   * `replayKeys`: what makes a delivery the same one again. Only a delivery that passed the
   * signature check gets here with status 202, so only those are remembered.
   */
  const answer = (name: HookName, request: FastifyRequest, reply: FastifyReply, verdict: HookVerdict, replayKeys: string[] = []) => {
    if (verdict.status !== 202) {
      requests.inc({ hook: name, outcome: verdict.outcome });
      const key = `${name} ${verdict.outcome}`;
      if (now() - (lastRefusalLog.get(key) ?? -Infinity) >= REFUSAL_LOG_EVERY_MS) {
        lastRefusalLog.set(key, now());
        log.warn({ hook: name, status: verdict.status, from: request.ip }, `webhook ${name} refused a delivery: ${verdict.reason}`);
      }
      return reply.code(verdict.status).send({ error: verdict.reason });
    }
    const at = now();
    lastValidAt.set(name, at);
    lastValid.set({ hook: name }, at / 1000);
    if (replayKeys.length > 0 && deliveries.seenAny(replayKeys, at)) {
      requests.inc({ hook: name, outcome: 'duplicate' });
      return reply.code(202).send({ status: 'ignored', reason: 'delivery already received' });
    }
    requests.inc({ hook: name, outcome: verdict.outcome });
    if (verdict.checks.length === 0) {
      log.debug({ hook: name, reason: verdict.reason }, `webhook ${name}: nothing to check (${verdict.reason})`);
      return reply.code(202).send({ status: 'ignored', reason: verdict.reason });
    }
    // Answer first: the registry's own notification timeout must not depend on our HEAD.
    void reply.code(202).send({ status: 'accepted', checking: verdict.checks.length });
    for (const tagCheck of verdict.checks) check(name, tagCheck);
    return reply;
  };

  const header = (request: FastifyRequest, name: string): string | undefined => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const bodyOf = (request: FastifyRequest): Buffer => (Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0));
  /** The content type as sent, saved before the header is neutralised (see the onRequest hook below). */
  const sentContentTypes = new WeakMap<FastifyRequest, string | undefined>();
  const contentTypeOf = (request: FastifyRequest): string | undefined => sentContentTypes.get(request);
  // Counted here because the server answers these before any handler runs.
  const countTooLarge = (name: HookName) => async (_request: FastifyRequest, reply: FastifyReply) => {
    if (reply.statusCode === 413) requests.inc({ hook: name, outcome: 'too_large' });
  };

  void app.register(async (scope) => {
    // Hooks verify the exact bytes they were sent (GitHub signs the raw body), so no parser runs.
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    // Fastify answers 415 itself for a content type it cannot parse (`garbage`, `;;`) before any
    // handler runs, which would tell an unauthenticated caller about the body before the
    // credentials (the order is 413 → 401 → 415/400). So the hook keeps the header as sent and
    // hands Fastify a neutral one; each verifier judges the saved value after the credentials.
    scope.addHook('onRequest', async (request) => {
      sentContentTypes.set(request, header(request, 'content-type'));
      request.raw.headers['content-type'] = 'application/octet-stream';
    });

    if (secrets.registry) {
      const token = secrets.registry.value;
      scope.post('/hooks/registry', { onResponse: countTooLarge('registry') }, async (request, reply) =>
        answer('registry', request, reply, verifyRegistryDelivery({ authorization: header(request, 'authorization'), contentType: contentTypeOf(request), body: bodyOf(request) }, token, watched())),
      );
    }
    if (secrets.ghcr) {
      const secret = secrets.ghcr.value;
      scope.post('/hooks/ghcr', { onResponse: countTooLarge('ghcr') }, async (request, reply) => {
        const verdict = verifyGhcrDelivery(
          { signature: header(request, 'x-hub-signature-256'), event: header(request, 'x-github-event'), contentType: contentTypeOf(request), body: bodyOf(request) },
          secret,
          watched(),
        );
        // X-GitHub-Delivery is not signed: a captured body and signature replayed under a fresh id
        // must still count as seen, so the signed bytes are a key of their own beside the id.
        const deliveryId = header(request, 'x-github-delivery');
        const replayKeys = [`body ${createHash('sha256').update(bodyOf(request)).digest('hex')}`, ...(deliveryId === undefined ? [] : [`id ${deliveryId}`])];
        return answer('ghcr', request, reply, verdict, replayKeys);
      });
    }
    if (secrets.dockerhub) {
      const token = secrets.dockerhub.value;
      const handler = async (request: FastifyRequest, reply: FastifyReply) => {
        const pathToken = (request.params as { token?: string }).token;
        return answer('dockerhub', request, reply, verifyDockerHubDelivery({ pathToken, contentType: contentTypeOf(request), body: bodyOf(request) }, token, watched()));
      };
      // Without a token in the path it is a delivery with missing credentials (401), not a 404.
      scope.post('/hooks/dockerhub', { onResponse: countTooLarge('dockerhub') }, handler);
      scope.post('/hooks/dockerhub/:token', { onResponse: countTooLarge('dockerhub') }, handler);
    }
  });

  return {
    readiness: () =>
      Object.fromEntries(
        names.map((name): [string, ReadinessCheck] => {
          const at = lastValidAt.get(name);
          return [`webhook:${name}`, { ok: true, state: at === undefined ? 'no valid delivery yet' : `last valid delivery at ${new Date(at).toISOString()}` }];
        }),
      ),
  };
}

/** Delivery ids seen recently, oldest first; bounded in time and count. */
export class DeliveryMemory {
  private readonly seenAt = new Map<string, number>();

  constructor(
    private readonly keepMs: number,
    private readonly max: number,
  ) {}

  /** True when any of `ids` was already seen (within `keepMs`); remembers all of them either way. */
  seenAny(ids: string[], now: number): boolean {
    let seen = false;
    for (const id of ids) if (this.seen(id, now)) seen = true;
    return seen;
  }

  /** True when `id` was already seen (within `keepMs`); remembers it otherwise. */
  seen(id: string, now: number): boolean {
    const at = this.seenAt.get(id);
    if (at !== undefined && now - at < this.keepMs) return true;
    this.seenAt.delete(id);
    // Expired ids go, and the oldest make room when full (insertion order is age order).
    for (const [oldest, seenAt] of this.seenAt) {
      if (now - seenAt < this.keepMs && this.seenAt.size < this.max) break;
      this.seenAt.delete(oldest);
    }
    this.seenAt.set(id, now);
    return false;
  }
}
