/**
 * A change the cluster's admission policy refused (PRODUCTION.md "Least privilege that holds"):
 * recognised from the apiserver's own words so the answer can name the policy.
 */
export interface PolicyDenial {
  policy: string;
  binding?: string;
  reason: string;
}

/** `… ValidatingAdmissionPolicy 'p' with binding 'b' denied request: why` → its parts; undefined for any other error. */
export function policyDenial(message: string): PolicyDenial | undefined {
  const match = /ValidatingAdmissionPolicy '([^']+)'(?: with binding '([^']+)')? denied request: (.*)$/s.exec(message);
  if (!match) return undefined;
  return { policy: match[1]!, ...(match[2] ? { binding: match[2] } : {}), reason: match[3]!.trim() };
}

/** The answer for a refused change: what was refused, by which policy, why, and that nothing changed. */
export function policyDenialText(doing: string, denial: PolicyDenial): string {
  const binding = denial.binding && denial.binding !== denial.policy ? ` (binding ${denial.binding})` : '';
  return `the cluster's admission policy ${denial.policy}${binding} refused ${doing}: ${denial.reason}. Nothing was changed; where that policy is bound, Driftwatch may only change container images and restart annotations (pin, unpin, restart).`;
}
