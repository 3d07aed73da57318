/**
 * The annotations Driftwatch writes on a workload it pinned, so `unpin` can put the tag back,
 * `/worker list` can show the pin and the watcher can tell a pin from someone else's change.
 */
export const PIN_ANNOTATIONS = {
  from: 'driftwatch.io/pinned-from',
  by: 'driftwatch.io/pinned-by',
  at: 'driftwatch.io/pinned-at',
  reason: 'driftwatch.io/pin-reason',
} as const;

/** A pin as recorded on the workload. */
export interface PinInfo {
  from: string;
  by?: string;
  at?: string;
  reason?: string;
}

/** The pin recorded in `annotations`, or undefined when the workload is not pinned. */
export function pinOf(annotations: Record<string, string> | undefined): PinInfo | undefined {
  const from = annotations?.[PIN_ANNOTATIONS.from];
  if (!from) return undefined;
  return { from, by: annotations?.[PIN_ANNOTATIONS.by], at: annotations?.[PIN_ANNOTATIONS.at], reason: annotations?.[PIN_ANNOTATIONS.reason] };
}

/** The annotations a pin writes: what it was pinned from, by whom, when and why. */
export function pinAnnotations(pin: { from: string; by: string; at: Date; reason: string }): Record<string, string> {
  return { [PIN_ANNOTATIONS.from]: pin.from, [PIN_ANNOTATIONS.by]: pin.by, [PIN_ANNOTATIONS.at]: pin.at.toISOString(), [PIN_ANNOTATIONS.reason]: pin.reason };
}
