/**
 * Who else writes a workload: Argo CD, Flux or a ConfigHub unit. Their syncs may put the old
 * spec back, so a confirmation says where the lasting change belongs.
 */
import type { V1ObjectMeta } from '@kubernetes/client-node';

export interface GitOpsManager {
  tool: 'Argo CD' | 'Flux' | 'ConfigHub';
  /** Where the lasting change belongs, in words. */
  where: string;
}

/** The GitOps tool that owns an object, read from its labels and annotations. */
export function gitopsManager(metadata: Pick<V1ObjectMeta, 'labels' | 'annotations'> | undefined): GitOpsManager | undefined {
  const labels = metadata?.labels ?? {};
  const annotations = metadata?.annotations ?? {};
  const argo = labels['argocd.argoproj.io/instance'] ?? annotations['argocd.argoproj.io/tracking-id']?.split(':')[0];
  if (argo !== undefined) return { tool: 'Argo CD', where: `the Git source of Argo CD application "${argo}"` };
  const kustomization = labels['kustomize.toolkit.fluxcd.io/name'];
  if (kustomization !== undefined) {
    const namespace = labels['kustomize.toolkit.fluxcd.io/namespace'];
    return { tool: 'Flux', where: `the Git source of Flux Kustomization "${namespace ? `${namespace}/` : ''}${kustomization}"` };
  }
  const release = labels['helm.toolkit.fluxcd.io/name'];
  if (release !== undefined) return { tool: 'Flux', where: `the values of Flux HelmRelease "${release}"` };
  const unit = annotations['confighub.com/UnitSlug'] ?? labels['confighub.com/UnitSlug'];
  if (unit !== undefined) return { tool: 'ConfigHub', where: `ConfigHub unit "${unit}"` };
  if ([...Object.keys(labels), ...Object.keys(annotations)].some((key) => key.startsWith('confighub.com/'))) return { tool: 'ConfigHub', where: 'its ConfigHub unit' };
  return undefined;
}

/** The warning a confirmation shows for a managed workload, or undefined. */
export function gitopsWarning(metadata: Parameters<typeof gitopsManager>[0]): string | undefined {
  const manager = gitopsManager(metadata);
  return manager ? `⚠️ Managed by ${manager.tool}: a sync may revert this; the lasting change belongs in ${manager.where}.` : undefined;
}
