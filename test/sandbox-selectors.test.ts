/** The fake apiserver's label and field selectors, without I/O. */
import { describe, expect, it } from 'vitest';
import type { KubeObject } from '../src/sandbox/kube-objects.js';
import { matchesFieldSelector, matchesLabels, parseLabelSelector } from '../src/sandbox/selectors.js';

const pod = (name: string, namespace: string): KubeObject => ({ apiVersion: 'v1', kind: 'Pod', metadata: { name, namespace } });

describe('parseLabelSelector', () => {
  it('reads every requirement form, with commas inside set lists kept together', () => {
    expect(parseLabelSelector('app=web, tier == front,env!=prod,zone in (a, b),track notin (canary),!legacy,owner')).toEqual([
      { key: 'app', op: '=', values: ['web'] },
      { key: 'tier', op: '=', values: ['front'] },
      { key: 'env', op: '!=', values: ['prod'] },
      { key: 'zone', op: 'in', values: ['a', 'b'] },
      { key: 'track', op: 'notin', values: ['canary'] },
      { key: 'legacy', op: '!exists', values: [] },
      { key: 'owner', op: 'exists', values: [] },
    ]);
  });

  it('reads an empty or missing selector as no requirement', () => {
    expect(parseLabelSelector(undefined)).toEqual([]);
    expect(parseLabelSelector('')).toEqual([]);
    expect(parseLabelSelector(' , ')).toEqual([]);
  });
});

describe('matchesLabels', () => {
  const labels = { app: 'web', zone: 'a' };
  const matches = (selector: string) => matchesLabels(labels, parseLabelSelector(selector));

  it('matches equality, inequality, set and existence requirements as the apiserver does', () => {
    expect(matches('app=web')).toBe(true);
    expect(matches('app=api')).toBe(false);
    expect(matches('app!=api')).toBe(true);
    expect(matches('missing!=x')).toBe(true); // != also matches objects without the label
    expect(matches('zone in (a,b)')).toBe(true);
    expect(matches('zone in (b)')).toBe(false);
    expect(matches('zone notin (b)')).toBe(true);
    expect(matches('missing notin (b)')).toBe(true);
    expect(matches('missing in (b)')).toBe(false);
    expect(matches('app')).toBe(true);
    expect(matches('!app')).toBe(false);
    expect(matches('!missing')).toBe(true);
    expect(matches('app=web,zone=b')).toBe(false); // every requirement must hold
  });

  it('treats an object without labels as having none', () => {
    expect(matchesLabels(undefined, parseLabelSelector(''))).toBe(true);
    expect(matchesLabels(undefined, parseLabelSelector('app'))).toBe(false);
    expect(matchesLabels(undefined, parseLabelSelector('!app'))).toBe(true);
  });
});

describe('matchesFieldSelector', () => {
  it('selects on metadata.name and metadata.namespace, with = == and !=', () => {
    const p = pod('web-1', 'prod');
    expect(matchesFieldSelector(p, undefined)).toBe(true);
    expect(matchesFieldSelector(p, 'metadata.name=web-1')).toBe(true);
    expect(matchesFieldSelector(p, 'metadata.name==web-2')).toBe(false);
    expect(matchesFieldSelector(p, 'metadata.namespace!=dev')).toBe(true);
    expect(matchesFieldSelector(p, 'metadata.name=web-1,metadata.namespace=dev')).toBe(false);
  });

  it('matches nothing on a field it does not know or a part it cannot read', () => {
    const p = pod('web-1', 'prod');
    expect(matchesFieldSelector(p, 'spec.nodeName=node-1')).toBe(false);
    expect(matchesFieldSelector(p, 'garbage')).toBe(false);
  });
});
