/**
 * Label and field selectors as the apiserver reads them on LIST and WATCH (`?labelSelector=`,
 * `?fieldSelector=`). Pure: parsing and matching, no I/O.
 */
import type { KubeObject } from './kube-objects.js';

export type Requirement = { key: string; op: '=' | '!=' | 'in' | 'notin' | 'exists' | '!exists'; values: string[] };

/** Parses a label selector (`a=b,c!=d,e in (x,y),!f,g`). */
export function parseLabelSelector(selector: string | undefined): Requirement[] {
  if (!selector) return [];
  const parts: string[] = [];
  let depth = 0;
  let current = '';
  for (const ch of selector) {
    if (ch === '(') depth++;
    if (ch === ')') depth--;
    if (ch === ',' && depth === 0) {
      parts.push(current);
      current = '';
    } else current += ch;
  }
  parts.push(current);
  return parts
    .map((p) => p.trim())
    .filter(Boolean)
    .map((part): Requirement => {
      let m = /^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/.exec(part);
      if (m) return { key: m[1]!, op: m[2] as 'in' | 'notin', values: m[3]!.split(',').map((v) => v.trim()) };
      m = /^(\S+?)\s*(==|=|!=)\s*(\S*)$/.exec(part);
      if (m) return { key: m[1]!, op: m[2] === '!=' ? '!=' : '=', values: [m[3]!] };
      if (part.startsWith('!')) return { key: part.slice(1).trim(), op: '!exists', values: [] };
      return { key: part, op: 'exists', values: [] };
    });
}

/** Whether `labels` satisfy every requirement (an empty selector matches everything). */
export function matchesLabels(labels: Record<string, string> | undefined, reqs: Requirement[]): boolean {
  const l = labels ?? {};
  return reqs.every((r) => {
    const has = Object.prototype.hasOwnProperty.call(l, r.key);
    switch (r.op) {
      case '=':
        return has && l[r.key] === r.values[0];
      case '!=':
        return !has || l[r.key] !== r.values[0];
      case 'in':
        return has && r.values.includes(l[r.key]!);
      case 'notin':
        return !has || !r.values.includes(l[r.key]!);
      case 'exists':
        return has;
      case '!exists':
        return !has;
    }
  });
}

/** Field selectors the apiserver supports for every kind: metadata.name and metadata.namespace. */
export function matchesFieldSelector(obj: KubeObject, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector.split(',').every((part) => {
    const m = /^\s*([\w.]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!m) return false;
    const actual = m[1] === 'metadata.name' ? obj.metadata.name : m[1] === 'metadata.namespace' ? obj.metadata.namespace : undefined;
    return m[2] === '!=' ? actual !== m[3] : actual === m[3];
  });
}
