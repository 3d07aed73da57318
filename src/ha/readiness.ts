import type { ElectorStatus } from './elector.js';

/**
 * The `leader` check of /readyz: ok on the leader and on a standby that can read the Lease (a
 * healthy standby is ready), not ok while the Lease can't be read or renewed — so when no replica
 * reaches the apiserver, every /readyz says why nobody leads. The detail starts with the role.
 */
export function leaderCheck(status: ElectorStatus): { ok: boolean; detail: string } {
  if (status.role === 'leader') return { ok: true, detail: `leader (term ${status.term ?? '?'}, as ${status.identity})` };
  if (status.lastError) return { ok: false, detail: `standby: ${status.lastError}` };
  const holder = status.holder === undefined ? 'nobody holds the lease' : status.holder === status.identity ? 'taking over' : `${status.holder} leads`;
  return { ok: true, detail: `standby (${holder})` };
}
