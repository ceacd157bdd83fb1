import { createHash } from "node:crypto";
import { Transform, type Readable, type TransformCallback } from "node:stream";

/** HashingCounter passes bytes through while computing their sha256 and counting them. */
export class HashingCounter extends Transform {
  readonly #hash = createHash("sha256");
  /** bytes is how many bytes passed so far. */
  bytes = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#hash.update(chunk);
    this.bytes += chunk.length;
    cb(null, chunk);
  }

  /** digest is the hex sha256 of everything that passed. */
  digest(): string {
    return this.#hash.digest("hex");
  }
}

/** sha256Of reads a stream to its end and returns the hex sha256 and the length of what it held. */
export async function sha256Of(stream: Readable): Promise<{ sha256: string; bytes: number }> {
  const h = createHash("sha256");
  let bytes = 0;
  for await (const chunk of stream) {
    h.update(chunk as Buffer);
    bytes += (chunk as Buffer).length;
  }
  return { sha256: h.digest("hex"), bytes };
}
