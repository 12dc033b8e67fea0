/**
 * Cryptographically random bytes for ids on hot paths (tags, branches,
 * nonces): randomBytes() per id costs a system call; drawing from a
 * refilled block does not, and the bytes are the same CSPRNG's.
 */
import { randomBytes } from 'node:crypto';

const BLOCK_BYTES = 4096;

export class RandomPool {
  private block = Buffer.alloc(0);
  private offset = 0;

  /** `n` fresh bytes; a view into the current block, never handed out twice. */
  take(n: number): Buffer {
    if (this.offset + n > this.block.length) {
      this.block = randomBytes(Math.max(BLOCK_BYTES, n));
      this.offset = 0;
    }
    const out = this.block.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** `n` fresh bytes as hex (2n characters). */
  hex(n: number): string {
    return this.take(n).toString('hex');
  }
}

/** The process's pool, shared by every id generator. */
export const randomPool = new RandomPool();
