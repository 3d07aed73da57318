/**
 * Polls `probe` (sync or async) until it returns something truthy, or fails naming `what`.
 * Tests wait for observable conditions with a deadline, never for a fixed time.
 */
export async function waitUntil<T>(what: string, probe: () => T | undefined | false | null | Promise<T | undefined | false | null>, timeoutMs: number, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs}ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
