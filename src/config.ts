import { existsSync, readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { parseDocument } from 'yaml';
import { z } from 'zod';
import { formatDuration, parseDuration } from './domain/duration.js';
import { parseImageRef } from './domain/image-ref.js';
import { validate as validateCron } from 'node-cron';

/** Timers can't wait longer than this (Node's setTimeout limit is about 24.8 days). */
const MAX_DURATION_MS = 24 * 86_400_000;

/** A duration written like `30s`, `5m`, `1h`; parsed to milliseconds, within [min, 24d]. */
const duration = (fallback: string, minMs = 1) =>
  z
    .string()
    .default(fallback)
    .transform((text, ctx) => {
      const ms = parseDuration(text);
      if (ms === undefined || ms <= 0) {
        ctx.addIssue({ code: 'custom', message: `expected a duration like 30s, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      if (ms < minMs || ms > MAX_DURATION_MS) {
        ctx.addIssue({ code: 'custom', message: `expected a duration between ${formatDuration(minMs)} and 24d, got ${JSON.stringify(text)}` });
        return z.NEVER;
      }
      return ms;
    });

/** How often something is polled: at least a second, so a typo can't flood what is probed. */
const every = (fallback: string) => duration(fallback, 1000);

/** A lease duration: Lease.spec.leaseDurationSeconds holds whole seconds. */
const wholeSeconds = (fallback: string) =>
  duration(fallback, 1000).refine((ms) => ms % 1000 === 0, 'expected whole seconds, like 15s');

const dnsLabel = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
const dnsSubdomain = /^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/;

const slackId = (prefix: string, what: string) =>
  z.string().regex(new RegExp(`^(${prefix})[A-Z0-9]{2,}$`), `expected a Slack ${what} id like ${prefix.split('|')[0]}0123ABCD`);

const imageRef = z.string().superRefine((text, ctx) => {
  try {
    parseImageRef(text);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** A label selector as kubectl's -l takes it: `team=payments`, `tier!=cache`, `env in (a,b)`, `canary`, `!legacy`. */
const selectorTerm = /^(!?[A-Za-z0-9][-A-Za-z0-9_./]*|[A-Za-z0-9][-A-Za-z0-9_./]*\s*(==?|!=)\s*[-A-Za-z0-9_.]*|[A-Za-z0-9][-A-Za-z0-9_./]*\s+(in|notin)\s+\([-A-Za-z0-9_.,\s]*\))$/;
const labelSelector = z.string().refine(
  (text) => text.trim() !== '' && splitSelector(text).every((term) => selectorTerm.test(term.trim())),
  'expected a label selector like team=payments or env in (prod,staging)',
);

/** Splits a selector at the commas between terms (not those inside `in (a,b)`). */
function splitSelector(text: string): string[] {
  const terms: string[] = [];
  let depth = 0;
  let start = 0;
  for (let index = 0; index < text.length; index++) {
    const char = text[index];
    if (char === '(') depth++;
    else if (char === ')') depth--;
    else if (char === ',' && depth === 0) {
      terms.push(text.slice(start, index));
      start = index + 1;
    }
  }
  terms.push(text.slice(start));
  return terms;
}

const workloadKind = z.enum(['Deployment', 'DaemonSet', 'StatefulSet']);

const httpUrl = z.string().superRefine((text, ctx) => {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got ${JSON.stringify(text)}` });
    return;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') {
    ctx.addIssue({ code: 'custom', message: `expected an http(s) URL, got ${url.protocol} in ${JSON.stringify(text)}` });
  }
});

/** A PostgreSQL URL; the rest (password, sslmode…) may come from the PG* environment variables. Never echoed: it may hold a password. */
const postgresUrl = z.string().superRefine((text, ctx) => {
  let url: URL | undefined;
  try {
    url = new URL(text);
  } catch {
    // reported below
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    ctx.addIssue({ code: 'custom', message: `expected a PostgreSQL URL like postgres://driftwatch@db.internal:5432/driftwatch, got ${url ? url.protocol : 'text that is not a URL'}` });
  }
});
/** The name of an environment variable holding a secret. */
const envName = (fallback: string) => z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name like MY_SECRET').default(fallback);

const accessRule = z.strictObject({
  users: z.array(slackId('U|W', 'user')).default([]),
  groups: z.array(slackId('S', 'user group')).default([]),
  channels: z.array(slackId('C|G|D', 'channel')).default([]),
});

export const configSchema = z
  .strictObject({
    slack: z
      .strictObject({
        mode: z.enum(['socket', 'http']).default('socket'),
        channel: slackId('C|G', 'channel').optional(),
        port: z.number().int().min(0).max(65535).default(3000),
      })
      .prefault({}),
    console: z.strictObject({ user: z.string().default('U0CONSOLE') }).prefault({}),
    timezone: z
      .string()
      .default('UTC')
      .refine((zone) => {
        try {
          new Intl.DateTimeFormat('en-GB', { timeZone: zone });
          return true;
        } catch {
          return false;
        }
      }, 'expected an IANA time zone like UTC or Europe/Berlin'),
    // `path`: the embedded SQLite file (the default); `url`: PostgreSQL instead, for several replicas.
    store: z.strictObject({ path: z.string().default('./data/driftwatch.db'), url: postgresUrl.optional() }).prefault({}),
    server: z
      .strictObject({
        host: z.string().min(1, 'expected an address to listen on, like 0.0.0.0 or 127.0.0.1').default('0.0.0.0'),
        port: z.number().int().min(0).max(65535).default(9090),
      })
      .prefault({}),
    // Each hook is served only when its section is present; the secret comes from the named variable.
    webhooks: z
      .strictObject({
        registry: z.strictObject({ tokenEnv: envName('DRIFTWATCH_REGISTRY_WEBHOOK_TOKEN') }).optional(),
        ghcr: z.strictObject({ secretEnv: envName('DRIFTWATCH_GHCR_WEBHOOK_SECRET') }).optional(),
        dockerhub: z.strictObject({ tokenEnv: envName('DRIFTWATCH_DOCKERHUB_WEBHOOK_TOKEN') }).optional(),
      })
      .prefault({}),
    // The read-only status page on server.port; publicUrl makes Slack roots and summaries link to it.
    statusPage: z
      .strictObject({
        publicUrl: z
          .url({ protocol: /^https?$/, error: 'expected an http(s) URL like https://driftwatch.example.com' })
          .transform((url) => url.replace(/\/+$/, ''))
          .optional(),
        basicAuth: z
          .strictObject({
            username: z.string().min(1, 'expected a user name').regex(/^[^:]+$/, 'a basic-auth user name cannot contain ":"'),
            passwordEnv: envName('DRIFTWATCH_STATUS_PASSWORD'),
          })
          .optional(),
      })
      .optional(),
    clusters: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          context: z.string().optional(),
          unreachableAfter: duration('60s'),
        }),
      )
      .default([]),
    registries: z
      .record(
        z.string(),
        z.strictObject({
          insecure: z.boolean().default(false),
          username: z.string().optional(),
          passwordEnv: z.string().optional(),
          /** Where this registry name is really served (a mirror or pull-through cache). */
          url: httpUrl.optional(),
        }),
      )
      .default({}),
    confighub: z
      .strictObject({
        url: httpUrl.default('https://hub.confighub.com'),
        tokenEnv: z.string().default('CONFIGHUB_TOKEN'),
        every: every('15s'),
      })
      .optional(),
    workers: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          cluster: z.string().min(1),
          namespace: z.string().default('confighub'),
          deployment: z.string().optional(),
          container: z.string().default('worker'),
          space: z.string().optional(),
        }),
      )
      .default([]),
    workloads: z
      .array(
        z.strictObject({
          cluster: z.string().min(1),
          namespace: z.string().min(1),
          kind: workloadKind.default('Deployment'),
          name: z.string().min(1),
        }),
      )
      .default([]),
    // Every Deployment, DaemonSet and StatefulSet in these namespaces is watched like a listed workload.
    discover: z
      .array(
        z.strictObject({
          cluster: z.string().min(1),
          namespaces: z.union([z.literal('all'), z.array(z.string().regex(dnsLabel, 'expected a Kubernetes namespace name like traderx')).min(1, 'expected at least one namespace, or all')]),
          labelSelector: labelSelector.optional(),
        }),
      )
      .default([]),
    images: z
      .array(
        z.strictObject({
          ref: imageRef,
          every: every('1m'),
          platforms: z.array(z.string().regex(/^[a-z0-9]+\/[a-z0-9]+(\/[a-z0-9]+)?$/, 'expected a platform like linux/amd64')).default(['linux/amd64']),
        }),
      )
      .default([]),
    endpoints: z
      .array(
        z.strictObject({
          name: z.string().min(1),
          service: z.string().optional(),
          url: httpUrl,
          headers: z.record(z.string(), z.string()).default({}),
          versionHeader: z.string().default('X-Version'),
          expect: z.string().optional(),
          expectFrom: z
            .union([z.strictObject({ image: imageRef }), z.strictObject({ workload: z.string() })])
            .optional(),
          workload: z.string().optional(),
          every: every('30s'),
          followRedirects: z.boolean().default(false),
          cors: z.strictObject({ origin: z.string(), method: z.string().default('GET') }).optional(),
        }),
      )
      .default([]),
    access: z.record(z.string(), accessRule).default({}),
    alerting: z
      .strictObject({
        failuresBeforeAlert: z.number().int().min(1).default(2),
        recoveriesBeforeResolve: z.number().int().min(1).default(2),
        reopenWithin: duration('30m'),
        healthyFor: duration('5m'),
        correlationWindow: duration('30m'),
        remindEvery: duration('1h'),
        storm: z.strictObject({ incidents: z.number().int().min(2).default(10), within: duration('5m') }).prefault({}),
      })
      .prefault({}),
    routes: z
      .array(
        z.strictObject({
          match: z.strictObject({
            cluster: z.string().optional(),
            namespace: z.string().optional(),
            subject: z.string().optional(),
            label: z.string().regex(/^[\w./-]+=[\w./-]*$/, 'expected a pod label like team=payments').optional(),
          }),
          channel: slackId('C|G', 'channel'),
        }),
      )
      .default([]),
    ha: z
      .strictObject({
        cluster: z.string().min(1),
        namespace: z.string().regex(dnsLabel, 'expected a Kubernetes namespace name like driftwatch').default('driftwatch'),
        lease: z.string().regex(dnsSubdomain, 'expected a Lease name like driftwatch-leader').default('driftwatch-leader'),
        /** Default: $POD_NAME, else the hostname (resolved by `leaseIdentity`, so the schema stays host-independent). */
        identity: z.string().min(1).optional(),
        leaseDuration: wholeSeconds('15s'),
        renewDeadline: duration('10s', 1000),
        retryPeriod: duration('2s', 100),
      })
      .superRefine((ha, ctx) => {
        // client-go's own checks: a leader must give up before its lease can expire for the others.
        if (ha.renewDeadline >= ha.leaseDuration) ctx.addIssue({ code: 'custom', path: ['renewDeadline'], message: `must be shorter than ha.leaseDuration (${formatDuration(ha.leaseDuration)}), got ${formatDuration(ha.renewDeadline)}` });
        if (ha.retryPeriod >= ha.renewDeadline) ctx.addIssue({ code: 'custom', path: ['retryPeriod'], message: `must be shorter than ha.renewDeadline (${formatDuration(ha.renewDeadline)}), got ${formatDuration(ha.retryPeriod)}` });
      })
      .optional(),
    heartbeat: z.strictObject({ url: httpUrl, every: every('1m') }).optional(),
    digest: z.strictObject({ cron: z.string().default('0 9 * * 1-5').refine((expression) => validateCron(expression), 'expected a cron expression like "0 9 * * 1-5"') }).prefault({}),
  })
  .superRefine((config, ctx) => crossReferences(config, (path, message) => ctx.addIssue({ code: 'custom', path, message })));

/** The config as far as the cross-reference checks need it; loose, so they run on a file with other errors too. */
interface CrossReferenced {
  clusters?: Array<{ name: string }>;
  workers?: Array<{ name: string; cluster: string; space?: string }>;
  confighub?: unknown;
  workloads?: Array<{ cluster: string; namespace: string; kind?: string; name: string }>;
  discover?: Array<{ cluster: string; namespaces?: unknown; labelSelector?: string }>;
  endpoints?: Array<{ name: string; workload?: string; expect?: string; expectFrom?: { image: string } | { workload: string } }>;
  routes?: Array<{ match?: { cluster?: string } }>;
  images?: Array<{ ref: string }>;
  access?: Record<string, unknown>;
  store?: { url?: string };
  ha?: { cluster?: string };
}

/** Duplicates and references to things the config doesn't define. */
function crossReferences(config: CrossReferenced, report: (path: (string | number)[], message: string) => void): void {
  const clusterNames = new Set<string>();
  (config.clusters ?? []).forEach((cluster, index) => {
    if (clusterNames.has(cluster.name)) report(['clusters', index, 'name'], `duplicate cluster name "${cluster.name}"`);
    clusterNames.add(cluster.name);
  });
  const knownClusters = [...clusterNames].join(', ') || 'none configured';
  const checkCluster = (name: string, path: (string | number)[]) => {
    if (!clusterNames.has(name)) report(path, `unknown cluster "${name}" (clusters: ${knownClusters})`);
  };
  const workerNames = new Set<string>();
  (config.workers ?? []).forEach((worker, index) => {
    if (workerNames.has(worker.name)) report(['workers', index, 'name'], `duplicate worker name "${worker.name}"`);
    workerNames.add(worker.name);
    checkCluster(worker.cluster, ['workers', index, 'cluster']);
    if (worker.space && !config.confighub) {
      report(['workers', index, 'space'], 'a worker with a space needs a confighub section');
    }
  });
  const workloadKeys = new Set<string>();
  (config.workloads ?? []).forEach((workload, index) => {
    const key = `${workload.cluster}/${workload.namespace}/${workload.kind ?? 'Deployment'}/${workload.name}`;
    if (workloadKeys.has(key)) report(['workloads', index], `duplicate workload ${key}`);
    workloadKeys.add(key);
    checkCluster(workload.cluster, ['workloads', index, 'cluster']);
  });
  const scopes = new Set<string>();
  (config.discover ?? []).forEach((scope, index) => {
    checkCluster(scope.cluster, ['discover', index, 'cluster']);
    const key = `${scope.cluster} ${JSON.stringify(scope.namespaces)} ${scope.labelSelector ?? ''}`;
    if (scopes.has(key)) report(['discover', index], `duplicate discover entry for cluster ${scope.cluster}`);
    scopes.add(key);
  });
  const checkWorkloadRef = (ref: string, path: (string | number)[]) => {
    if (!workloadKeys.has(ref)) {
      report(path, `unknown workload "${ref}" (expected cluster/namespace/Kind/name of a configured workload: ${[...workloadKeys].join(', ') || 'none configured'})`);
    }
  };
  const endpointNames = new Set<string>();
  (config.endpoints ?? []).forEach((endpoint, index) => {
    if (endpointNames.has(endpoint.name)) report(['endpoints', index, 'name'], `duplicate endpoint name "${endpoint.name}"`);
    endpointNames.add(endpoint.name);
    if (endpoint.workload) checkWorkloadRef(endpoint.workload, ['endpoints', index, 'workload']);
    if (endpoint.expectFrom && 'workload' in endpoint.expectFrom) checkWorkloadRef(endpoint.expectFrom.workload, ['endpoints', index, 'expectFrom', 'workload']);
    if (endpoint.expect && endpoint.expectFrom) report(['endpoints', index], 'set either expect or expectFrom, not both');
  });
  (config.routes ?? []).forEach((route, index) => {
    if (route.match?.cluster) checkCluster(route.match.cluster, ['routes', index, 'match', 'cluster']);
  });
  const imageRefs = new Set<string>();
  (config.images ?? []).forEach((image, index) => {
    if (imageRefs.has(image.ref)) report(['images', index, 'ref'], `duplicate image ${image.ref}`);
    imageRefs.add(image.ref);
  });
  if (config.ha) {
    if (typeof config.ha.cluster === 'string') checkCluster(config.ha.cluster, ['ha', 'cluster']);
    // Several replicas share one store: a SQLite file can't be that.
    if (!config.store?.url) report(['ha'], 'needs store.url (PostgreSQL): replicas share one database, and a SQLite file (store.path) has a single writer');
  }
  for (const command of Object.keys(config.access ?? {})) {
    if (!accessCommands.includes(command)) {
      report(['access', command], `unknown command "${command}"${nearest(command, accessCommands)} (commands: ${accessCommands.join(', ')})`);
    }
  }
}

/** Commands that change a cluster, and so need an access rule. */
/** Rules by command; the `incident …` ones are optional (without one, anyone in the incident's channel may). */
export const accessCommands = ['worker pin', 'worker unpin', 'rollout restart', 'rollout undo', 'incident resolve', 'incident mute', 'incident ack'];

export type Config = z.output<typeof configSchema>;
export type WorkerConfig = Config['workers'][number];
export type WorkloadConfig = Config['workloads'][number];
export type DiscoverConfig = Config['discover'][number];
export type EndpointConfig = Config['endpoints'][number];
export type HaConfig = NonNullable<Config['ha']>;
export type HeartbeatConfig = NonNullable<Config['heartbeat']>;

/** Who this replica is in the Lease: `ha.identity`, else $POD_NAME (downward API), else the hostname. */
export function leaseIdentity(ha: Pick<HaConfig, 'identity'>, env: NodeJS.ProcessEnv = process.env, host: () => string = hostname): string {
  return ha.identity ?? (env.POD_NAME || host());
}

export class ConfigError extends Error {
  constructor(
    readonly source: string,
    readonly problems: string[],
  ) {
    super(`${source}: invalid configuration\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i++) {
    let previousDiagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const saved = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, previousDiagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      previousDiagonal = saved;
    }
  }
  return row[b.length]!;
}

function nearest(word: string, candidates: string[]): string {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate.toLowerCase());
    if (distance < bestDistance) {
      best = candidate;
      bestDistance = distance;
    }
  }
  return best !== undefined && bestDistance <= Math.max(2, Math.floor(word.length / 3)) ? `; did you mean "${best}"?` : '';
}

function formatPath(path: PropertyKey[]): string {
  return path
    .map((segment, index) => (typeof segment === 'number' ? `[${segment}]` : `${index === 0 ? '' : '.'}${String(segment)}`))
    .join('');
}

/** The keys a strict object at `path` accepts, for "did you mean" hints. */
function keysAt(path: PropertyKey[]): string[] {
  let schema: z.ZodType = configSchema;
  for (const segment of path) {
    schema = unwrap(schema);
    if (schema instanceof z.ZodObject) schema = schema.shape[segment as string] as z.ZodType;
    else if (schema instanceof z.ZodArray) schema = schema.element as z.ZodType;
    else if (schema instanceof z.ZodRecord) schema = schema.valueType as z.ZodType;
    else return [];
    if (!schema) return [];
  }
  schema = unwrap(schema);
  return schema instanceof z.ZodObject ? Object.keys(schema.shape) : [];
}

function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (;;) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodOptional || current instanceof z.ZodPrefault) current = current.unwrap() as z.ZodType;
    else if (current instanceof z.ZodPipe) current = current.in as z.ZodType;
    else return current;
  }
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const where = formatPath(issue.path) || '(top level)';
  if (issue.code === 'unrecognized_keys') {
    const valid = keysAt(issue.path);
    return issue.keys
      .map((key) => `${formatPath([...issue.path, key])}: unknown key${nearest(key, valid)}${valid.length ? ` (valid keys: ${valid.join(', ')})` : ''}`)
      .join('\n  - ');
  }
  if (issue.code === 'invalid_type') {
    const received = (issue as { input?: unknown }).input;
    const got = received === undefined ? 'nothing' : Array.isArray(received) ? 'a list' : `${typeof received} ${JSON.stringify(received)}`;
    return `${where}: expected ${issue.expected}, got ${got}`;
  }
  if (issue.code === 'invalid_value') return `${where}: expected one of ${issue.values.map((value) => JSON.stringify(value)).join(', ')}`;
  if (issue.code === 'invalid_union') return `${where}: expected one of the accepted shapes (see \`driftwatch schema\`)`;
  return `${where}: ${issue.message}`;
}

/** Validates a parsed YAML/JSON value; throws ConfigError listing every problem with its path. */
export function parseConfig(value: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(value ?? {}, { reportInput: true });
  if (result.success) return result.data;
  const problems = result.error.issues.map(describeIssue);
  // zod checks references only on a well-formed config: check them on the raw file too, so one run names every problem.
  if (value && typeof value === 'object') {
    try {
      crossReferences(value as CrossReferenced, (path, message) => problems.push(`${formatPath(path)}: ${message}`));
    } catch {
      // a shape too broken to cross-check: its shape errors say enough
    }
  }
  throw new ConfigError(source, [...new Set(problems)]);
}

/** Reads and validates a YAML config file. */
export function loadConfigFile(path: string): Config {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ConfigError(path, [`cannot read the file: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`]);
  }
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length) throw new ConfigError(path, document.errors.map((error) => `YAML: ${error.message.split('\n')[0]}`));
  return parseConfig(document.toJS(), path);
}

/** Where the config comes from: --config, then DRIFTWATCH_CONFIG, then ./driftwatch.yml. */
export function findConfigPath(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): string | undefined {
  if (explicit) return explicit;
  if (env.DRIFTWATCH_CONFIG) return env.DRIFTWATCH_CONFIG;
  return existsSync('driftwatch.yml') ? 'driftwatch.yml' : undefined;
}

/** The JSON Schema of the config file, generated from the same zod schema that validates it. */
export function configJsonSchema(): unknown {
  return z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' });
}
