/**
 * deploy/base/admission-policy.yaml (PRODUCTION.md "Least privilege that holds"): its CEL is
 * evaluated here with @marcbachmann/cel-js against the patches Driftwatch makes (allowed) and the
 * ones a stolen token would make (refused). The objects are JSON, as the apiserver gives them to
 * CEL; what this cannot show is the apiserver's own type checking (see README "Security").
 */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { evaluate } from '@marcbachmann/cel-js';
import { pinAnnotations } from '../src/kube/annotations.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [policy, binding] = parseAllDocuments(readFileSync(join(root, 'deploy/base/admission-policy.yaml'), 'utf8')).map((doc) => doc.toJS()) as Array<{
  kind: string;
  metadata: { name: string };
  spec: Record<string, never>;
}>;

interface Expression {
  name?: string;
  expression: string;
  message?: string;
}
const spec = policy!.spec as unknown as { matchConditions: Expression[]; variables: Expression[]; validations: Expression[]; matchConstraints: { resourceRules: Array<{ operations: string[]; resources: string[] }> } };
const DRIFTWATCH = 'system:serviceaccount:driftwatch:driftwatch';

type Json = Record<string, unknown>;

/** What the apiserver would answer for `oldObject` → `object` by `user`: undefined when allowed, else the failed validation's message. */
function admit(oldObject: Json, object: Json, user = DRIFTWATCH): string | undefined {
  const context: Record<string, unknown> = { object, oldObject, request: { userInfo: { username: user } } };
  if (!spec.matchConditions.every((condition) => evaluate(condition.expression, context) === true)) return undefined;
  const variables: Record<string, unknown> = {};
  context.variables = variables;
  for (const variable of spec.variables) variables[variable.name!] = evaluate(variable.expression, context);
  for (const validation of spec.validations) if (evaluate(validation.expression, context) !== true) return validation.message;
  return undefined;
}

/** A ConfigHub worker Deployment as the apiserver stores it (seed 002: its service account is cluster-admin). */
function worker(): Json {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: {
      name: 'cost-optimizer-worker',
      namespace: 'confighub',
      resourceVersion: '4711',
      generation: 3,
      labels: { app: 'cost-optimizer-worker' },
      annotations: { 'deployment.kubernetes.io/revision': '3' },
      managedFields: [{ manager: 'cub', operation: 'Apply' }],
    },
    spec: {
      replicas: 1,
      selector: { matchLabels: { app: 'cost-optimizer-worker' } },
      strategy: { type: 'RollingUpdate' },
      template: {
        metadata: { labels: { app: 'cost-optimizer-worker' } },
        spec: {
          serviceAccountName: 'cost-optimizer-worker',
          containers: [
            { name: 'worker', image: 'ghcr.io/confighubai/confighub-worker:latest', args: ['run'], env: [{ name: 'CONFIGHUB_URL', value: 'https://hub.confighub.com' }] },
            { name: 'sidecar', image: 'busybox:1.36', command: ['sleep', 'infinity'] },
          ],
        },
      },
    },
  };
}

/** The apiserver's view after a patch: the change, plus what it manages itself (resourceVersion, generation, managedFields). */
function after(change: (object: Json & { metadata: Json & { annotations: Record<string, string> }; spec: Json & { template: Json & { metadata: Json; spec: Json & { containers: Json[] } } } }) => void): Json {
  const object = structuredClone(worker()) as Parameters<typeof change>[0];
  change(object);
  object.metadata.resourceVersion = '4712';
  object.metadata.generation = 4;
  object.metadata.managedFields = [{ manager: 'cub', operation: 'Apply' }, { manager: 'driftwatch', operation: 'Update' }];
  return object;
}

describe('the admission policy on what Driftwatch changes', () => {
  it('is bound to the namespaces where Driftwatch may patch, and matches only its service account updating workloads', () => {
    expect(policy!.kind).toBe('ValidatingAdmissionPolicy');
    expect(binding!.kind).toBe('ValidatingAdmissionPolicyBinding');
    const bound = binding!.spec as unknown as { policyName: string; validationActions: string[]; matchResources: { namespaceSelector: { matchExpressions: Array<{ values: string[] }> } } };
    expect(bound.policyName).toBe(policy!.metadata.name);
    expect(bound.validationActions).toEqual(['Deny']);
    expect(bound.matchResources.namespaceSelector.matchExpressions[0]!.values).toEqual(['confighub']);
    expect(spec.matchConstraints.resourceRules[0]!.resources.sort()).toEqual(['daemonsets', 'deployments', 'statefulsets']);
    // People and controllers are not held to it: the same refused change by someone else is not judged.
    expect(admit(worker(), after((o) => (o.spec.replicas = 5)), 'kubernetes-admin')).toBeUndefined();
  });

  it('lets pin, unpin and restart through', () => {
    const pin = after((o) => {
      o.spec.template.spec.containers[0]!.image = 'ghcr.io/confighubai/confighub-worker@sha256:' + 'a'.repeat(64);
      Object.assign(o.metadata.annotations, pinAnnotations({ from: 'ghcr.io/confighubai/confighub-worker:latest', by: 'U0ONCALL', at: new Date(0), reason: 'incident #1' }));
    });
    expect(admit(worker(), pin)).toBeUndefined();
    const unpin = after((o) => {
      o.spec.template.spec.containers[0]!.image = 'ghcr.io/confighubai/confighub-worker:latest';
    });
    expect(admit(pin, unpin)).toBeUndefined();
    const restart = after((o) => {
      o.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-11-30T18:00:00Z' };
    });
    expect(admit(worker(), restart)).toBeUndefined();
    // A second restart changes the value that is already there.
    expect(admit(restart, after((o) => (o.spec.template.metadata.annotations = { 'kubectl.kubernetes.io/restartedAt': '2026-11-30T19:00:00Z' })))).toBeUndefined();
  });

  it('refuses every other change a token could make, naming what is allowed', () => {
    const refused: Array<[string, Json, RegExp]> = [
      ['undo (the whole template of an older revision)', after((o) => {
        o.spec.template.spec.containers[0] = { name: 'worker', image: 'ghcr.io/confighubai/confighub-worker:0.9', args: ['run', '--old'] };
      }), /only the image/],
      ['a command', after((o) => (o.spec.template.spec.containers[0]!.command = ['sh', '-c', 'kubectl get secrets -A'])), /only the image/],
      ['an env var', after((o) => (o.spec.template.spec.containers[0]!.env = [])), /only the image/],
      ['the service account', after((o) => (o.spec.template.spec.serviceAccountName = 'default')), /only the image/],
      ['a hostPath volume', after((o) => (o.spec.template.spec.volumes = [{ name: 'root', hostPath: { path: '/' } }])), /only the image/],
      ['an extra container', after((o) => o.spec.template.spec.containers.push({ name: 'x', image: 'evil:1' })), /only the image/],
      ['a renamed container', after((o) => (o.spec.template.spec.containers[1]!.name = 'other')), /only the image/],
      ['an init container', after((o) => (o.spec.template.spec.initContainers = [{ name: 'i', image: 'evil:1' }])), /only the image/],
      ['privileged', after((o) => (o.spec.template.spec.containers[0]!.securityContext = { privileged: true })), /only the image/],
      ['replicas', after((o) => (o.spec.replicas = 0)), /outside its pod template/],
      ['the strategy', after((o) => (o.spec.strategy = { type: 'Recreate' })), /outside its pod template/],
      ['a pod template label', after((o) => (o.spec.template.metadata.labels = { app: 'x' })), /restartedAt and driftwatch.io/],
      ['another pod template annotation', after((o) => (o.spec.template.metadata.annotations = { 'sidecar.istio.io/inject': 'false' })), /restartedAt and driftwatch.io/],
      ['a workload label', after((o) => ((o.metadata as Json).labels = { app: 'y' })), /driftwatch.io\/\* annotations of a workload/],
      ['another workload annotation', after((o) => (o.metadata.annotations['argocd.argoproj.io/sync-options'] = 'Prune=false')), /driftwatch.io\/\* annotations of a workload/],
      ['a removed workload annotation', after((o) => delete o.metadata.annotations['deployment.kubernetes.io/revision']), /driftwatch.io\/\* annotations of a workload/],
    ];
    for (const [what, object, message] of refused) expect(admit(worker(), object), what).toMatch(message);
  });
});
