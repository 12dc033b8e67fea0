/**
 * A small tmpfs of the test's own, to make a disk really fill up under a
 * running server. Mounting needs root; in CI a missing
 * capability is a failure, said loudly; elsewhere the test is skipped.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, rmdirSync, writeSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface SmallDisk {
  dir: string;
  /** Writes a filler file until the disk is full; returns the bytes written. */
  fill(): number;
  /** Deletes the filler. */
  free(): void;
  unmount(): void;
}

export function requireTmpfs(): string | undefined {
  let reason: string | undefined;
  if (process.platform !== 'linux') reason = 'tmpfs mounts need Linux';
  else if (process.getuid?.() !== 0) reason = 'mounting a tmpfs needs root (run the test as root)';
  else {
    try {
      mountSmallDisk(1).unmount();
    } catch (e) {
      reason = `cannot mount a tmpfs: ${(e as Error).message.split('\n')[0]}`;
    }
  }
  if (reason && process.env.CI) throw new Error(reason);
  return reason;
}

export function mountSmallDisk(sizeMb: number): SmallDisk {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sb-small-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0755`, 'sb-test-tmpfs', dir], { stdio: 'pipe', timeout: 5000 });
  const filler = path.join(dir, 'filler');
  return {
    dir,
    fill() {
      const fd = openSync(filler, 'a');
      const chunk = Buffer.alloc(64 * 1024);
      let written = 0;
      try {
        // Bounded by the disk's size: at most sizeMb MB / 64 KB writes.
        for (let i = 0; i < (sizeMb * 1024) / 64 + 16; i++) written += writeSync(fd, chunk);
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd);
      }
      // The last partial block, byte by byte is too slow; small writes take what is left.
      const fd2 = openSync(filler, 'a');
      try {
        for (let i = 0; i < 64; i++) written += writeSync(fd2, Buffer.alloc(1024));
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOSPC') throw e;
      } finally {
        closeSync(fd2);
      }
      return written;
    },
    free() {
      rmSync(filler, { force: true });
    },
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe', timeout: 5000 });
      rmdirSync(dir);
    },
  };
}
