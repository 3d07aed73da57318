/**
 * The container image and the Kubernetes manifests, checked the way an operator meets them:
 * `kubectl kustomize deploy/` (and the several-replicas overlay `deploy/ha/`) renders, every object validates against the Kubernetes schemas
 * (kubernetes-models, generated from the upstream OpenAPI), the RBAC grants exactly what the
 * kube client needs and nothing broader, the pod is locked down, the sample config is valid for
 * our own parser and agrees with the manifests, and the Dockerfile keeps its invariants.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { Namespace } from 'kubernetes-models/v1/Namespace';
import { ServiceAccount } from 'kubernetes-models/v1/ServiceAccount';
import { ConfigMap } from 'kubernetes-models/v1/ConfigMap';
import { Secret } from 'kubernetes-models/v1/Secret';
import { PersistentVolumeClaim } from 'kubernetes-models/v1/PersistentVolumeClaim';
import { Service } from 'kubernetes-models/v1/Service';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1/PodDisruptionBudget';
import { ClusterRole } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole';
import { ClusterRoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding';
import { Role } from 'kubernetes-models/rbac.authorization.k8s.io/v1/Role';
import { RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding';
import { ValidatingAdmissionPolicy } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy';
import { ValidatingAdmissionPolicyBinding } from 'kubernetes-models/admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding';
import { leaseIdentity, parseConfig, type Config } from '../src/config.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const deployDir = join(root, 'deploy');
/** The manifests themselves; deploy/ and deploy/ha/ are kustomizations over them. */
const baseDir = join(deployDir, 'base');
const haDir = join(deployDir, 'ha');

/* ---------------- types and helpers (pure) ---------------- */

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [key: string]: unknown;
}
interface PolicyRule {
  apiGroups?: string[];
  resources?: string[];
  verbs: string[];
  resourceNames?: string[];
  nonResourceURLs?: string[];
}
interface RoleRef {
  kind: string;
  name: string;
}
interface Subject {
  kind: string;
  name: string;
  namespace?: string;
}

/** Schema classes by apiVersion/kind; an object of any other kind fails validation outright. */
const models: Record<string, new (data: never) => { validate(): void }> = {
  'v1/Namespace': Namespace,
  'v1/ServiceAccount': ServiceAccount,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/PersistentVolumeClaim': PersistentVolumeClaim,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'rbac.authorization.k8s.io/v1/ClusterRole': ClusterRole,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': ClusterRoleBinding,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy': ValidatingAdmissionPolicy,
  'admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding': ValidatingAdmissionPolicyBinding,
};

/** Schema problems of one object, as `Kind/name: …` lines (empty when it is valid). */
function schemaProblems(object: K8sObject): string[] {
  const where = `${object.kind}/${object.metadata?.name ?? '?'}`;
  const Model = models[`${object.apiVersion}/${object.kind}`];
  if (!Model) return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
  try {
    new Model(structuredClone(object) as never).validate();
    return [];
  } catch (error) {
    return [`${where}: ${(error as Error).message}`];
  }
}

function yamlObjects(text: string, source: string): K8sObject[] {
  return parseAllDocuments(text).flatMap((document) => {
    if (document.errors.length > 0) throw new Error(`${source}: ${document.errors[0]!.message}`);
    const value = document.toJS() as K8sObject | null;
    return value ? [value] : [];
  });
}

const ownedWorkloadKinds = ['deployments', 'daemonsets', 'statefulsets'];
const allowedVerbs = ['get', 'list', 'watch', 'patch'];
const broadRoles = ['cluster-admin', 'admin', 'edit'];

function rulesOf(objects: K8sObject[], ref: RoleRef, namespace?: string): PolicyRule[] {
  const role = objects.find((o) => o.kind === ref.kind && o.metadata.name === ref.name && (ref.kind === 'ClusterRole' || o.metadata.namespace === namespace));
  return (role?.rules as PolicyRule[] | undefined) ?? [];
}

/**
 * Everything that makes the RBAC broader than Driftwatch's contract: wildcards, verbs beyond
 * get/list/watch/patch, patch on anything but the three workload kinds, secrets, built-in
 * broad roles, and a patch-granting role bound cluster-wide.
 */
function rbacProblems(objects: K8sObject[]): string[] {
  const problems: string[] = [];
  for (const role of objects.filter((o) => o.kind === 'ClusterRole' || o.kind === 'Role')) {
    const where = `${role.kind}/${role.metadata.name}`;
    if (role.aggregationRule) problems.push(`${where}: aggregationRule pulls in other roles' rules`);
    ((role.rules as PolicyRule[] | undefined) ?? []).forEach((rule, index) => {
      const at = `${where} rule ${index}`;
      for (const field of ['apiGroups', 'resources', 'verbs', 'resourceNames', 'nonResourceURLs'] as const) {
        if ((rule[field] ?? []).some((value) => value.includes('*'))) problems.push(`${at}: wildcard in ${field}`);
      }
      if (isLeaderElectionRule(role, rule)) return;
      for (const verb of rule.verbs.filter((v) => !allowedVerbs.includes(v))) problems.push(`${at}: verb ${verb} is not allowed`);
      if ((rule.resources ?? []).some((r) => r === 'secrets' || r.startsWith('secrets/'))) problems.push(`${at}: grants access to secrets`);
      if (rule.nonResourceURLs?.length) problems.push(`${at}: grants nonResourceURLs`);
      if (rule.verbs.includes('patch')) {
        const groups = rule.apiGroups ?? [];
        const resources = rule.resources ?? [];
        if (groups.length !== 1 || groups[0] !== 'apps' || resources.some((r) => !ownedWorkloadKinds.includes(r))) {
          problems.push(`${at}: patch granted on ${groups.map((g) => g || 'core').join(',')}/${resources.join(',')}, not only on apps deployments/daemonsets/statefulsets`);
        }
      }
    });
  }
  for (const binding of objects.filter((o) => o.kind === 'ClusterRoleBinding' || o.kind === 'RoleBinding')) {
    const where = `${binding.kind}/${binding.metadata.name}`;
    const ref = binding.roleRef as RoleRef;
    if (broadRoles.includes(ref.name)) problems.push(`${where}: binds the built-in ${ref.name}`);
    const grantsPatch = rulesOf(objects, ref, binding.metadata.namespace).some((rule) => rule.verbs.includes('patch'));
    if (binding.kind === 'ClusterRoleBinding' && grantsPatch) problems.push(`${where}: grants patch in every namespace`);
  }
  return problems;
}

/**
 * The one exception to get/list/watch/patch, for deploy/ha's leader election, in a namespaced Role
 * only: get and update of one named Lease, and create of leases (which RBAC can't limit by name).
 */
function isLeaderElectionRule(role: K8sObject, rule: PolicyRule): boolean {
  const only = (values: string[] | undefined, expected: string[]) => JSON.stringify(values ?? []) === JSON.stringify(expected);
  if (role.kind !== 'Role' || !only(rule.apiGroups, ['coordination.k8s.io']) || !only(rule.resources, ['leases'])) return false;
  if (rule.resourceNames?.length === 1) return rule.verbs.every((verb) => verb === 'get' || verb === 'update');
  return !rule.resourceNames?.length && only(rule.verbs, ['create']);
}

/** Does this set of rules allow `verb` on the object `name` of `group`/`resource` (rules without resourceNames cover every name)? */
function allowsOn(rules: PolicyRule[], group: string, resource: string, verb: string, name: string): boolean {
  return rules.some((rule) => (rule.apiGroups ?? []).includes(group) && (rule.resources ?? []).includes(resource) && rule.verbs.includes(verb) && (!rule.resourceNames?.length || rule.resourceNames.includes(name)));
}

/** Does this set of rules allow `verb` on `group`/`resource`? (No wildcards: rbacProblems rejects them.) */
function allows(rules: PolicyRule[], group: string, resource: string, verb: string): boolean {
  return rules.some((rule) => (rule.apiGroups ?? []).includes(group) && (rule.resources ?? []).includes(resource) && rule.verbs.includes(verb));
}

/** The rules the ServiceAccount holds in `namespace` (cluster-wide bindings included). */
function effectiveRules(objects: K8sObject[], account: Subject, namespace: string): PolicyRule[] {
  return objects
    .filter((o) => o.kind === 'ClusterRoleBinding' || (o.kind === 'RoleBinding' && o.metadata.namespace === namespace))
    .filter((binding) => ((binding.subjects as Subject[] | undefined) ?? []).some((s) => s.kind === 'ServiceAccount' && s.name === account.name && s.namespace === account.namespace))
    .flatMap((binding) => rulesOf(objects, binding.roleRef as RoleRef, binding.metadata.namespace));
}

interface DockerInstruction {
  instruction: string;
  args: string;
  stage: number;
}

/** Dockerfile instructions with continuations joined and comments dropped, each with its stage index. */
function dockerInstructions(text: string): DockerInstruction[] {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (pending === '' && (line === '' || line.startsWith('#'))) continue;
    if (pending !== '' && line.startsWith('#')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  let stage = -1;
  return logical.map((line) => {
    const [, instruction = '', args = ''] = /^(\S+)\s*(.*)$/.exec(line) ?? [];
    const upper = instruction.toUpperCase();
    if (upper === 'FROM') stage++;
    return { instruction: upper, args: args.trim(), stage };
  });
}

/** The image a FROM names, with `${ARG}` defaults from global ARGs filled in. */
function fromImage(args: string, globals: Record<string, string>): string {
  const image = args.replace(/^--platform=\S+\s+/, '').split(/\s+/)[0]!;
  return image.replace(/\$\{?(\w+)\}?/g, (_, name: string) => globals[name] ?? '');
}

/** kubectl from Debian's package (/usr/bin), else anywhere on PATH. */
function kubectlPath(): string | undefined {
  const dirs = ['/usr/bin', ...(process.env.PATH ?? '').split(':').filter(Boolean)];
  return dirs.map((dir) => join(dir, 'kubectl')).find((candidate) => existsSync(candidate));
}

/* ---------------- the objects under test ---------------- */

const kustomization = parse(readFileSync(join(baseDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
/** What `kubectl apply -k` would send, straight from the listed files (for when kubectl is missing). */
const listedObjects = kustomization.resources.flatMap((file) => yamlObjects(readFileSync(join(baseDir, file), 'utf8'), file));
const kubectl = kubectlPath();
// With CI=true a missing kubectl fails the rendering tests (below); elsewhere they are skipped with this line.
const skipRender = !kubectl && !process.env.CI;
if (!kubectl) console.warn('deploy.test.ts: kubectl not found (Debian package kubectl): skipping the `kubectl kustomize deploy/` render; the files are checked as listed');
const rendered = kubectl ? yamlObjects(execFileSync(kubectl, ['kustomize', deployDir], { encoding: 'utf8', timeout: 10_000 }), 'kubectl kustomize deploy/') : undefined;
const objects = rendered ?? listedObjects;
const secretTemplate = yamlObjects(readFileSync(join(baseDir, 'secret.example.yaml'), 'utf8'), 'secret.example.yaml');

function the(kind: string, name?: string): K8sObject {
  const found = objects.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
  if (found.length !== 1) throw new Error(`expected one ${kind}${name ? `/${name}` : ''}, found ${found.length}`);
  return found[0]!;
}

const deployment = the('Deployment', 'driftwatch') as any;
const podSpec = deployment.spec.template.spec;
const container = podSpec.containers.find((c: any) => c.name === 'driftwatch');
const configMap = the('ConfigMap') as any;
const sampleConfig: Config = parseConfig(parse(configMap.data['driftwatch.yml'] as string), 'deploy/configmap.yaml driftwatch.yml');
const account: Subject = { kind: 'ServiceAccount', name: the('ServiceAccount').metadata.name, namespace: the('ServiceAccount').metadata.namespace! };
const dockerfile = dockerInstructions(readFileSync(join(root, 'Dockerfile'), 'utf8'));

/* ---------------- tests ---------------- */

describe(`kubectl kustomize deploy/${kubectl ? '' : ' — SKIPPED: kubectl not found (install Debian package kubectl)'}`, () => {
  it.skipIf(skipRender)('renders every listed object, and each validates against the Kubernetes schemas', () => {
    expect(kubectl, 'kubectl renders deploy/ with kustomize: install the Debian package kubectl (.ci/run does)').toBeTruthy();
    const key = (o: K8sObject) => `${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    expect(rendered!.map(key).sort()).toEqual(listedObjects.map(key).sort());
    expect(rendered!.flatMap(schemaProblems)).toEqual([]);
    expect(rendered!.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Namespace', 'PersistentVolumeClaim', 'RoleBinding', 'RoleBinding', 'Service', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].sort(),
    );
  });

  it.skipIf(skipRender)('keeps each RoleBinding in its own namespace (no kustomize namespace override)', () => {
    const bindings = rendered!.filter((o) => o.kind === 'RoleBinding');
    expect(bindings.map((b) => b.metadata.namespace)).toContain('confighub');
  });
});

describe('schema validation (kubernetes-models)', () => {
  it('rejects what the apiserver would reject', () => {
    const broken = structuredClone(deployment);
    broken.spec.strategy.type = 'BlueGreen';
    delete broken.spec.selector;
    const problems = schemaProblems(broken);
    expect(problems.join('\n')).toMatch(/Deployment\/driftwatch: .*selector/);
    expect(schemaProblems({ apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } })).toEqual(['Pod/x: no schema for v1 Pod']);
  });

  it('validates every file in deploy/base/ itself, the Secret template included', () => {
    expect([...listedObjects, ...secretTemplate].flatMap(schemaProblems)).toEqual([]);
  });
});

describe('RBAC', () => {
  it('has no wildcard, no cluster-admin, no secrets, and patch only on the workload kinds', () => {
    expect(rbacProblems(objects)).toEqual([]);
  });

  it('the checker catches each kind of overreach', () => {
    const doctored = structuredClone(objects);
    const read = doctored.find((o) => o.kind === 'ClusterRole' && o.metadata.name === 'driftwatch-read')!;
    (read.rules as PolicyRule[]).push(
      { apiGroups: [''], resources: ['*'], verbs: ['get'] },
      { apiGroups: [''], resources: ['secrets'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['delete', 'patch'] },
    );
    doctored.push({ apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'ClusterRoleBinding', metadata: { name: 'oops' }, roleRef: { kind: 'ClusterRole', name: 'cluster-admin' }, subjects: [account] });
    const problems = rbacProblems(doctored);
    expect(problems).toEqual(
      expect.arrayContaining([
        'ClusterRole/driftwatch-read rule 3: wildcard in resources',
        'ClusterRole/driftwatch-read rule 4: grants access to secrets',
        'ClusterRole/driftwatch-read rule 5: verb delete is not allowed',
        'ClusterRole/driftwatch-read rule 5: patch granted on core/pods, not only on apps deployments/daemonsets/statefulsets',
        'ClusterRoleBinding/driftwatch-read: grants patch in every namespace',
        'ClusterRoleBinding/oops: binds the built-in cluster-admin',
      ]),
    );
  });

  it('grants the reads the kube client makes in every namespace, and patch in none by default', () => {
    const rules = effectiveRules(objects, account, 'traderx');
    const reads: Array<[string, string, string[]]> = [
      ['', 'pods', ['get', 'list', 'watch']],
      ['apps', 'deployments', ['get', 'list', 'watch']],
      ['apps', 'daemonsets', ['get', 'list', 'watch']],
      ['apps', 'statefulsets', ['get', 'list', 'watch']],
      ['apps', 'replicasets', ['get', 'list', 'watch']],
    ];
    for (const [group, resource, verbs] of reads) for (const verb of verbs) expect(allows(rules, group, resource, verb), `${verb} ${resource}`).toBe(true);
    for (const resource of ownedWorkloadKinds) expect(allows(rules, 'apps', resource, 'patch'), `patch ${resource} in traderx`).toBe(false);
    expect(allows(rules, '', 'namespaces', 'list')).toBe(false);
    // Logs can hold secrets: readable only where something is watched.
    expect(allows(rules, '', 'pods/log', 'get')).toBe(false);
    expect(allows(effectiveRules(objects, account, 'confighub'), '', 'pods/log', 'get')).toBe(true);
  });

  it('grants patch (pin, restart, undo) on the three workload kinds in the namespace of every sample worker', () => {
    const namespaces = new Set(sampleConfig.workers.map((w) => w.namespace));
    expect([...namespaces]).toEqual(['confighub']);
    for (const namespace of namespaces) {
      const rules = effectiveRules(objects, account, namespace);
      for (const resource of ownedWorkloadKinds) expect(allows(rules, 'apps', resource, 'patch'), `patch ${resource} in ${namespace}`).toBe(true);
      expect(allows(rules, 'apps', 'replicasets', 'patch')).toBe(false);
    }
  });

  it('explains every rule with a comment', () => {
    const lines = readFileSync(join(baseDir, 'rbac.yaml'), 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (/^\s*- apiGroups:/.test(line)) expect(lines[index - 1]!.trim().startsWith('#'), `rbac.yaml line ${index + 1} has no comment above it`).toBe(true);
    });
  });
});

describe('the Deployment', () => {
  it('runs one replica with Recreate (SQLite has one writer)', () => {
    expect(deployment.spec.replicas).toBe(1);
    expect(deployment.spec.strategy.type).toBe('Recreate');
  });

  it('is locked down: non-root, read-only root, no escalation, no capabilities, RuntimeDefault seccomp', () => {
    expect(podSpec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(podSpec.securityContext.runAsUser).toBeGreaterThan(0);
    expect(container.securityContext).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(container.securityContext.capabilities.add ?? []).toEqual([]);
    expect(container.securityContext.privileged ?? false).toBe(false);
    expect(podSpec.hostNetwork ?? false).toBe(false);
    expect(podSpec.serviceAccountName).toBe(account.name);
    expect(container.resources.requests).toBeDefined();
    expect(container.resources.limits.memory).toBeDefined();
  });

  it('writes only to volumes: /data on the PVC, /tmp on an emptyDir, config read-only', () => {
    const volume = (mountPath: string) => {
      const mount = container.volumeMounts.find((m: any) => m.mountPath === mountPath);
      expect(mount, `a volume at ${mountPath}`).toBeDefined();
      return { mount, volume: podSpec.volumes.find((v: any) => v.name === mount.name) };
    };
    expect(volume('/data').volume.persistentVolumeClaim.claimName).toBe(the('PersistentVolumeClaim').metadata.name);
    expect(volume('/tmp').volume.emptyDir).toBeDefined();
    const configPath = container.env.find((e: any) => e.name === 'DRIFTWATCH_CONFIG').value as string;
    const config = volume(posix.dirname(configPath));
    expect(config.mount.readOnly).toBe(true);
    expect(config.volume.configMap.name).toBe(configMap.metadata.name);
    expect(Object.keys(configMap.data)).toContain(posix.basename(configPath));
    expect(posix.dirname(sampleConfig.store.path)).toBe('/data');
  });

  it('takes the tokens from the Secret whose template ships in deploy/', () => {
    const [secret] = secretTemplate as any[];
    expect(container.envFrom).toEqual([{ secretRef: { name: secret.metadata.name } }]);
    expect(secret.metadata.namespace).toBe(deployment.metadata.namespace);
    expect(Object.keys(secret.stringData).sort()).toEqual(['CONFIGHUB_TOKEN', 'SLACK_APP_TOKEN', 'SLACK_BOT_TOKEN', 'SLACK_SIGNING_SECRET']);
    expect(Object.values(secret.stringData).every((value) => value === ''), 'the template holds no values').toBe(true);
    expect(secret.data).toBeUndefined();
    expect(kustomization.resources).not.toContain('secret.example.yaml');
    expect(sampleConfig.confighub?.tokenEnv).toBe('CONFIGHUB_TOKEN');
  });

  it('probes /healthz (liveness) and /readyz (readiness) on server.port, which the Service exposes', () => {
    const port = container.ports.find((p: any) => p.containerPort === sampleConfig.server.port);
    expect(port, `a container port ${sampleConfig.server.port}`).toBeDefined();
    expect(container.livenessProbe.httpGet).toEqual({ path: '/healthz', port: port.name });
    expect(container.readinessProbe.httpGet).toEqual({ path: '/readyz', port: port.name });
    const service = the('Service') as any;
    expect(service.spec.ports.map((p: any) => p.targetPort)).toContain(port.name);
    expect(deployment.spec.template.metadata.labels).toMatchObject(service.spec.selector);
    expect(deployment.spec.template.metadata.labels).toMatchObject(deployment.spec.selector.matchLabels);
  });
});

describe('the sample config in the ConfigMap', () => {
  it('parses with our config parser and says what the manifests assume', () => {
    expect(sampleConfig.slack.channel).toMatch(/^C/);
    expect(sampleConfig.store.path).toBe('/data/driftwatch.db');
    expect(sampleConfig.server.port).toBe(9090);
    expect(sampleConfig.clusters.length).toBeGreaterThan(0);
    expect(sampleConfig.clusters.every((c) => c.context === undefined), 'in-cluster: no context').toBe(true);
    expect(sampleConfig.workers.every((w) => w.namespace === 'confighub')).toBe(true);
  });
});

/* ---------------- deploy/ha: several replicas ---------------- */

const haKustomization = parse(readFileSync(join(haDir, 'kustomization.yaml'), 'utf8')) as { resources: string[] };
const haRendered = kubectl ? yamlObjects(execFileSync(kubectl, ['kustomize', haDir], { encoding: 'utf8', timeout: 10_000 }), 'kubectl kustomize deploy/ha/') : undefined;
const haSecretTemplate = yamlObjects(readFileSync(join(haDir, 'secret.example.yaml'), 'utf8'), 'ha/secret.example.yaml');

describe(`kubectl kustomize deploy/ha/ (several replicas)${kubectl ? '' : ' — SKIPPED: kubectl not found (install Debian package kubectl)'}`, () => {
  const objectsHa = haRendered ?? [];
  const theHa = (kind: string, name?: string): any => {
    const found = objectsHa.filter((o) => o.kind === kind && (name === undefined || o.metadata.name === name));
    if (found.length !== 1) throw new Error(`deploy/ha: expected one ${kind}${name ? `/${name}` : ''}, found ${found.length}`);
    return found[0]!;
  };
  const haDeployment = () => theHa('Deployment', 'driftwatch');
  const haContainer = () => haDeployment().spec.template.spec.containers.find((c: any) => c.name === 'driftwatch');
  const haConfig = (): Config => parseConfig(parse(theHa('ConfigMap').data['driftwatch.yml'] as string), 'deploy/ha/configmap-patch.yaml driftwatch.yml');

  it.skipIf(skipRender)('renders the base without its volume claim, plus the Lease RBAC and a PodDisruptionBudget, each valid', () => {
    expect(objectsHa.flatMap(schemaProblems)).toEqual([]);
    expect(haSecretTemplate.flatMap(schemaProblems)).toEqual([]);
    expect(objectsHa.map((o) => o.kind).sort()).toEqual(
      ['ClusterRole', 'ClusterRole', 'ClusterRole', 'ClusterRoleBinding', 'ConfigMap', 'Deployment', 'Namespace', 'PodDisruptionBudget', 'Role', 'RoleBinding', 'RoleBinding', 'RoleBinding', 'Service', 'ServiceAccount', 'ValidatingAdmissionPolicy', 'ValidatingAdmissionPolicyBinding'].sort(),
    );
    expect(haKustomization.resources).not.toContain('secret.example.yaml');
  });

  it.skipIf(skipRender)('runs 2 replicas with a rolling update that keeps one up, spread over nodes, on no volume but /tmp and the config', () => {
    const deployment = haDeployment();
    expect(deployment.spec.replicas).toBe(2);
    expect(deployment.spec.strategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 0, maxSurge: 1 } });
    const spec = deployment.spec.template.spec;
    expect(spec.volumes.map((v: any) => v.name).sort()).toEqual(['config', 'tmp']);
    expect(haContainer().volumeMounts.map((m: any) => m.mountPath).sort()).toEqual(['/etc/driftwatch', '/tmp']);
    expect(spec.topologySpreadConstraints[0]).toMatchObject({ topologyKey: 'kubernetes.io/hostname', labelSelector: { matchLabels: deployment.spec.selector.matchLabels } });
    // the base's lock-down and probes carry over unchanged
    expect(haContainer().securityContext).toEqual(container.securityContext);
    expect(spec.securityContext).toEqual(podSpec.securityContext);
    expect(haContainer().readinessProbe).toEqual(container.readinessProbe);
  });

  it.skipIf(skipRender)('has a PodDisruptionBudget that keeps one replica through voluntary disruptions', () => {
    const pdb = theHa('PodDisruptionBudget');
    expect(pdb.metadata.namespace).toBe(haDeployment().metadata.namespace);
    expect(pdb.spec.minAvailable).toBe(1);
    expect(pdb.spec.minAvailable).toBeLessThan(haDeployment().spec.replicas);
    expect(haDeployment().spec.template.metadata.labels).toMatchObject(pdb.spec.selector.matchLabels);
  });

  it.skipIf(skipRender)('names each pod in the Lease by POD_NAME from the downward API, and the config leaves identity to it', () => {
    const podName = haContainer().env.find((e: any) => e.name === 'POD_NAME');
    expect(podName.valueFrom).toEqual({ fieldRef: { fieldPath: 'metadata.name' } });
    const ha = haConfig().ha!;
    expect(ha.identity).toBeUndefined();
    expect(leaseIdentity(ha, { POD_NAME: 'driftwatch-7d9f-x2k4q' })).toBe('driftwatch-7d9f-x2k4q');
  });

  it.skipIf(skipRender)("grants get/update of the one Lease the config names, create of leases, and nothing else of coordination.k8s.io", () => {
    expect(rbacProblems(objectsHa)).toEqual([]);
    const config = haConfig();
    const ha = config.ha!;
    expect(config.clusters.find((c) => c.name === ha.cluster)?.context, 'the Lease is in the cluster Driftwatch runs in').toBeUndefined();
    const rules = effectiveRules(objectsHa, account, ha.namespace);
    for (const verb of ['get', 'update', 'create']) expect(allowsOn(rules, 'coordination.k8s.io', 'leases', verb, ha.lease), `${verb} lease ${ha.lease}`).toBe(true);
    for (const verb of ['get', 'update']) expect(allowsOn(rules, 'coordination.k8s.io', 'leases', verb, 'kube-scheduler'), `${verb} another lease`).toBe(false);
    for (const verb of ['list', 'watch', 'patch', 'delete']) expect(allowsOn(rules, 'coordination.k8s.io', 'leases', verb, ha.lease), `${verb} leases`).toBe(false);
    expect(allowsOn(effectiveRules(objectsHa, account, 'kube-system'), 'coordination.k8s.io', 'leases', 'get', ha.lease)).toBe(false);
    const lines = readFileSync(join(haDir, 'lease-rbac.yaml'), 'utf8').split('\n');
    lines.forEach((line, index) => {
      if (/^\s*- apiGroups:/.test(line)) expect(lines[index - 1]!.trim().startsWith('#'), `ha/lease-rbac.yaml line ${index + 1} has no comment above it`).toBe(true);
    });
  });

  it('the RBAC checker still catches a Lease rule that is broader than that', () => {
    const role = { apiVersion: 'rbac.authorization.k8s.io/v1', kind: 'Role', metadata: { name: 'loose', namespace: 'driftwatch' } };
    expect(rbacProblems([{ ...role, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'update'] }] }])).toEqual(['Role/loose rule 0: verb update is not allowed']);
    expect(rbacProblems([{ ...role, rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['create', 'delete'] }] }])).toEqual(['Role/loose rule 0: verb create is not allowed', 'Role/loose rule 0: verb delete is not allowed']);
    expect(rbacProblems([{ ...role, kind: 'ClusterRole', rules: [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['driftwatch-leader'], verbs: ['update'] }] }])).toEqual(['ClusterRole/loose rule 0: verb update is not allowed']);
  });

  it.skipIf(skipRender)('takes the PostgreSQL password from the Secret whose template ships in deploy/ha/, and keeps it out of store.url', () => {
    const config = haConfig();
    expect(config.store.url).toMatch(/^postgres:\/\//);
    expect(new URL(config.store.url!).password).toBe('');
    const [secret] = haSecretTemplate as any[];
    const password = haContainer().env.find((e: any) => e.name === 'PGPASSWORD');
    expect(password.valueFrom).toEqual({ secretKeyRef: { name: secret.metadata.name, key: 'PGPASSWORD' } });
    expect(secret.metadata.namespace).toBe(haDeployment().metadata.namespace);
    expect(secret.stringData).toEqual({ PGPASSWORD: '' });
    expect(secret.data).toBeUndefined();
    // the tokens still come from the base's Secret
    expect(haContainer().envFrom).toEqual(container.envFrom);
  });
});

describe('Dockerfile', () => {
  const globals = Object.fromEntries(
    dockerfile
      .filter((i) => i.instruction === 'ARG' && i.stage === -1)
      .map((i) => {
        const [name = '', value = ''] = i.args.split('=');
        return [name, value];
      }),
  );
  const froms = dockerfile.filter((i) => i.instruction === 'FROM');
  const finalStage = froms.length - 1;
  const final = dockerfile.filter((i) => i.stage === finalStage);
  const only = (instruction: string) => final.filter((i) => i.instruction === instruction);

  it('is multi-stage on Node 24', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(fromImage(from.args, globals)).toMatch(/^node:24[.-]/);
  });

  it('installs with npm ci, builds, and keeps production dependencies only', () => {
    const build = dockerfile.filter((i) => i.stage < finalStage && i.instruction === 'RUN').map((i) => i.args).join('\n');
    expect(build).toMatch(/\bnpm ci\b/);
    expect(build).toMatch(/npm run build/);
    expect(build).toMatch(/--omit=dev/);
    expect(build).toMatch(/better-sqlite3/); // its native binding is built (and loaded once) in the build stage
    expect(only('RUN').map((i) => i.args).join('\n')).not.toMatch(/\bnpm (ci|install)\b/);
  });

  it('ships only dist, bin, node_modules, package.json and manifest.yml', () => {
    const copied = only('COPY').map((i) => {
      const parts = i.args.split(/\s+/).filter((part) => !part.startsWith('--'));
      return posix.normalize(parts[0]!).replace(/^\/app\//, '');
    });
    expect(copied.sort()).toEqual(['bin', 'dist', 'manifest.yml', 'node_modules', 'package.json']);
  });

  it('runs as a numeric non-root user that matches the Deployment, with /data as a volume', () => {
    const users = only('USER');
    expect(users.length).toBeGreaterThan(0);
    const [uid, gid] = users.at(-1)!.args.split(':');
    expect(uid).toMatch(/^\d+$/);
    expect(Number(uid)).toBeGreaterThan(0);
    expect(Number(uid)).toBe(podSpec.securityContext.runAsUser);
    if (gid !== undefined) expect(Number(gid)).toBe(podSpec.securityContext.runAsGroup);
    expect(only('VOLUME').map((i) => i.args)).toContainEqual(expect.stringMatching(/^(\["\/data"\]|\/data)$/));
    expect(only('WORKDIR').map((i) => i.args)).toEqual(['/app']);
  });

  it('checks health with node itself and starts bin/driftwatch.js run', () => {
    const [healthcheck] = only('HEALTHCHECK');
    expect(healthcheck?.args).toMatch(/CMD \["node"/);
    expect(healthcheck?.args).toContain(`http://127.0.0.1:${sampleConfig.server.port}/healthz`);
    expect(healthcheck?.args).not.toMatch(/\b(curl|wget)\b/);
    expect(JSON.parse(only('ENTRYPOINT').at(-1)!.args)).toEqual(['node', 'bin/driftwatch.js']);
    expect(JSON.parse(only('CMD').at(-1)!.args)).toEqual(['run']);
    expect(only('EXPOSE').flatMap((i) => i.args.split(/\s+/))).toEqual(expect.arrayContaining([String(sampleConfig.server.port), '3000']));
  });

  it('fetches nothing by URL, and only copies what .dockerignore lets into the context', () => {
    expect(dockerfile.filter((i) => i.instruction === 'ADD').map((i) => i.args).join('\n')).not.toMatch(/https?:/);
    const allowed = readFileSync(join(root, '.dockerignore'), 'utf8')
      .split('\n')
      .filter((line) => line.startsWith('!'))
      .map((line) => posix.normalize(line.slice(1)).replace(/\/$/, ''));
    const fromContext = dockerfile
      .filter((i) => i.instruction === 'COPY' && !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).filter((part) => !part.startsWith('--')).slice(0, -1));
    expect(fromContext.length).toBeGreaterThan(0);
    for (const source of fromContext) {
      expect(allowed, `${source} is excluded by .dockerignore`).toContain(posix.normalize(source).replace(/\/$/, ''));
      expect(existsSync(join(root, source)), `${source} exists`).toBe(true);
    }
  });
});
