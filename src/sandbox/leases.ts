/**
 * What the apiserver checks on a `coordination.k8s.io/v1` Lease before storing it. Pure.
 * `acquireTime` and `renewTime` are MicroTime: RFC 3339 with exactly six fractional digits; the
 * apiserver cannot even decode anything else (400 BadRequest), while a decodable Lease with bad
 * values is 422 Invalid.
 */
import type { Json } from './kube-objects.js';

/** Go's metav1.RFC3339Micro layout, as the apiserver names it in its decoding error. */
const RFC3339_MICRO = '2006-01-02T15:04:05.000000Z07:00';
const MICRO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}(Z|[+-]\d{2}:\d{2})$/;

export interface LeaseRejection {
  code: 400 | 422;
  reason: 'BadRequest' | 'Invalid';
  message: string;
  details?: Json;
}

export const isMicroTime = (value: unknown): boolean => typeof value === 'string' && MICRO_TIME.test(value) && !Number.isNaN(Date.parse(value));

/** Why the apiserver refuses to store `lease`, or undefined when it is fine. */
export function leaseRejection(lease: Json): LeaseRejection | undefined {
  const spec = lease?.spec ?? {};
  for (const field of ['acquireTime', 'renewTime'] as const) {
    const value: unknown = spec[field];
    if (value === undefined || value === null || isMicroTime(value)) continue;
    return {
      code: 400,
      reason: 'BadRequest',
      message: `Lease in version "v1" cannot be handled as a Lease: parsing time ${JSON.stringify(value)} as "${RFC3339_MICRO}": spec.${field} must be RFC 3339 with exactly six fractional digits`,
    };
  }
  const name = String(lease?.metadata?.name ?? '');
  const causes: Array<{ field: string; message: string; value: unknown }> = [];
  if (!name) causes.push({ field: 'metadata.name', message: 'Required value: name or generateName is required', value: undefined });
  const duration: unknown = spec.leaseDurationSeconds;
  if (duration !== undefined && duration !== null && !(Number.isInteger(duration) && (duration as number) > 0)) {
    causes.push({ field: 'spec.leaseDurationSeconds', message: `Invalid value: ${JSON.stringify(duration)}: must be greater than 0`, value: duration });
  }
  const transitions: unknown = spec.leaseTransitions;
  if (transitions !== undefined && transitions !== null && !(Number.isInteger(transitions) && (transitions as number) >= 0)) {
    causes.push({ field: 'spec.leaseTransitions', message: `Invalid value: ${JSON.stringify(transitions)}: must be greater than or equal to 0`, value: transitions });
  }
  if (causes.length === 0) return undefined;
  return {
    code: 422,
    reason: 'Invalid',
    message: `Lease.coordination.k8s.io ${JSON.stringify(name)} is invalid: ${causes.map((c) => `${c.field}: ${c.message}`).join(', ')}`,
    details: {
      name,
      group: 'coordination.k8s.io',
      kind: 'Lease',
      causes: causes.map((c) => ({ reason: c.message.startsWith('Required') ? 'FieldValueRequired' : 'FieldValueInvalid', message: c.message, field: c.field })),
    },
  };
}
