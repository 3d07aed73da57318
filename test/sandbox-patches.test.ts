/** The fake apiserver's three patch algorithms, without I/O. */
import { describe, expect, it } from 'vitest';
import { jsonPatch, mergePatch, PatchError, strategicMergePatch } from '../src/sandbox/patches.js';

const deployment = () => ({
  metadata: { name: 'w', annotations: { keep: 'yes', drop: 'me' } },
  spec: {
    replicas: 1,
    template: {
      spec: {
        containers: [
          { name: 'worker', image: 'ghcr.io/x/worker:1', env: [{ name: 'A', value: '1' }, { name: 'B', value: '2' }] },
          { name: 'sidecar', image: 'busybox:1' },
        ],
        finalizers: ['a', 'b', 'c'],
      },
    },
  },
});

describe('mergePatch (RFC 7386)', () => {
  it('merges objects, deletes on null, replaces arrays, and leaves its input alone', () => {
    const target = deployment();
    const out = mergePatch(target, { metadata: { annotations: { drop: null, added: 'x' } }, spec: { template: { spec: { containers: [{ name: 'only' }] } } } });
    expect(out.metadata.annotations).toEqual({ keep: 'yes', added: 'x' });
    expect(out.spec.template.spec.containers).toEqual([{ name: 'only' }]);
    expect(out.spec.replicas).toBe(1);
    expect(target).toEqual(deployment());
  });

  it('replaces the whole document with a non-object patch', () => {
    expect(mergePatch({ a: 1 }, [1, 2])).toEqual([1, 2]);
  });
});

describe('strategicMergePatch', () => {
  it('merges lists with a merge key (containers by name, env by name) instead of replacing them', () => {
    const out = strategicMergePatch(deployment(), {
      spec: { template: { spec: { containers: [{ name: 'worker', image: 'ghcr.io/x/worker:2', env: [{ name: 'B', value: '3' }, { name: 'C', value: '4' }] }] } } },
    });
    const [worker, sidecar] = out.spec.template.spec.containers;
    expect(worker.image).toBe('ghcr.io/x/worker:2');
    expect(worker.env).toEqual([{ name: 'A', value: '1' }, { name: 'B', value: '3' }, { name: 'C', value: '4' }]);
    expect(sidecar).toEqual({ name: 'sidecar', image: 'busybox:1' });
  });

  it('honours $patch: delete in a merged list, $patch: replace on an object, $deleteFromPrimitiveList, null', () => {
    const out = strategicMergePatch(deployment(), {
      metadata: { annotations: { $patch: 'replace', only: 'this' } },
      spec: { template: { spec: { containers: [{ name: 'sidecar', $patch: 'delete' }], '$deleteFromPrimitiveList/finalizers': ['b'] } }, replicas: null },
    });
    expect(out.metadata.annotations).toEqual({ only: 'this' });
    expect(out.spec.template.spec.containers.map((c: { name: string }) => c.name)).toEqual(['worker']);
    expect(out.spec.template.spec.finalizers).toEqual(['a', 'c']);
    expect('replicas' in out.spec).toBe(false);
  });

  it('replaces lists without a merge key, and skips the ordering directives', () => {
    const out = strategicMergePatch({ spec: { args: ['a', 'b'] } }, { spec: { args: ['c'], '$setElementOrder/containers': [{ name: 'x' }], $retainKeys: ['args'] } });
    expect(out).toEqual({ spec: { args: ['c'] } });
  });
});

describe('jsonPatch (RFC 6902)', () => {
  it('applies add, remove, replace, move, copy and test in order', () => {
    const out = jsonPatch(deployment(), [
      { op: 'replace', path: '/spec/template/spec/containers/0/image', value: 'ghcr.io/x/worker:3' },
      { op: 'add', path: '/metadata/annotations/new~1key', value: 'v' },
      { op: 'remove', path: '/metadata/annotations/drop' },
      { op: 'add', path: '/spec/template/spec/finalizers/-', value: 'd' },
      { op: 'move', from: '/metadata/annotations/keep', path: '/metadata/labels' },
      { op: 'copy', from: '/spec/replicas', path: '/spec/minReadySeconds' },
      { op: 'test', path: '/spec/replicas', value: 1 },
    ]);
    expect(out.spec.template.spec.containers[0].image).toBe('ghcr.io/x/worker:3');
    expect(out.metadata.annotations).toEqual({ 'new/key': 'v' });
    expect(out.metadata.labels).toBe('yes');
    expect(out.spec.template.spec.finalizers).toEqual(['a', 'b', 'c', 'd']);
    expect(out.spec.minReadySeconds).toBe(1);
  });

  it('fails with the apiserver codes: 422 for a missing path or a failed test, 400 for a bad body or op', () => {
    const codeOf = (ops: unknown): number | undefined => {
      try {
        jsonPatch(deployment(), ops);
      } catch (err) {
        return err instanceof PatchError ? err.code : -1;
      }
      return undefined;
    };
    expect(codeOf([{ op: 'replace', path: '/spec/nothing', value: 1 }])).toBe(422);
    expect(codeOf([{ op: 'remove', path: '/metadata/annotations/absent' }])).toBe(422);
    expect(codeOf([{ op: 'add', path: '/no/such/parent', value: 1 }])).toBe(422);
    expect(codeOf([{ op: 'test', path: '/spec/replicas', value: 2 }])).toBe(422);
    expect(codeOf({ op: 'add' })).toBe(400);
    expect(codeOf([{ op: 'frobnicate', path: '/spec' }])).toBe(400);
  });
});
