/** Reading an HTTP answer's body with a ceiling, shared by the clients that read untrusted answers. */

/** Reads a body up to `max` bytes; more than that stops the read (and the connection) and returns undefined. */
export async function readCapped(body: AsyncIterable<Buffer | Uint8Array> & { destroy(): unknown }, max: number): Promise<Buffer | undefined> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for await (const chunk of body) {
    size += chunk.length;
    if (size > max) {
      body.destroy();
      return undefined;
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}
