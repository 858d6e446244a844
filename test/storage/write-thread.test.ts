/**
 * The real storage's queued durable writes (src/storage/write-thread.ts): they are made on the
 * write thread while the main thread never yields, a write is refused (not delayed) while every
 * buffer the thread writes from is busy, and a file's close waits for its queued writes; the
 * thread keeps a process alive exactly while a write is pending (child processes of the built
 * library: npm test builds it first).
 */
import { execFile } from 'node:child_process';
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { FileStorage } from '../../src/storage/file-storage.js';
import { QUEUED_WRITE_BYTES_MAX, writeThread } from '../../src/storage/write-thread.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ecsdb-write-thread-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Blocks this thread (no event loop turn) until `done()` or `limitMs` passes; whether done. */
function blockUntil(done: () => boolean, limitMs: number): boolean {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const end = Date.now() + limitMs;
  while (!done()) {
    if (Date.now() > end) return false;
    Atomics.wait(sleeper, 0, 0, 5);
  }
  return true;
}

/** Lets the event loop turn `count` times. */
async function turns(count: number): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise((resolve) => setImmediate(resolve));
}

describe.each([true, false])('FileStorage queued durable writes (syncEachWrite %s)', (syncEachWrite) => {
  test('are written while the main thread never yields', async () => {
    const file = await new FileStorage().open(join(dir, 'log'), 'create', { syncEachWrite, queuedWrites: true });
    const written = file.queueDurableWrite!(new Uint8Array(256 * 1024).fill(7), 0);
    // No await between the write and the check: only another thread can have made the write.
    expect(blockUntil(() => statSync(join(dir, 'log')).size === 256 * 1024, 20_000)).toBe(true);
    await written;
    await file.close();
  });

  test('are refused while every buffer is still being written; close waits for them', async () => {
    const file = await new FileStorage().open(join(dir, 'log'), 'create', { syncEachWrite, queuedWrites: true });
    const release = writeThread().hold();
    const accepted: Promise<void>[] = [];
    let refusedAt = -1;
    for (let i = 0; i < 100 && refusedAt === -1; i++) {
      const write = file.queueDurableWrite!(new Uint8Array(1000).fill(i + 1), i * 1000);
      if (write === undefined) refusedAt = i;
      else accepted.push(write);
    }
    expect(refusedAt).toBe(4); // four buffers (SLAB_COUNT)
    let closed = false;
    const closing = file.close().then(() => (closed = true));
    await turns(20);
    expect(closed).toBe(false);
    expect(statSync(join(dir, 'log')).size).toBe(0);
    release();
    await Promise.all(accepted);
    await closing;
    const contents = readFileSync(join(dir, 'log'));
    expect([...contents].filter((_, i) => i % 1000 === 0)).toEqual([1, 2, 3, 4]);
    expect(contents.length).toBe(4000);
  });

  test('a write over QUEUED_WRITE_BYTES_MAX is refused; one of that size is made', async () => {
    const file = await new FileStorage().open(join(dir, 'log'), 'create', { syncEachWrite, queuedWrites: true });
    expect(file.queueDurableWrite!(new Uint8Array(QUEUED_WRITE_BYTES_MAX + 1), 0)).toBeUndefined();
    await file.queueDurableWrite!(new Uint8Array(QUEUED_WRITE_BYTES_MAX).fill(9), 0);
    await file.close();
    expect(statSync(join(dir, 'log')).size).toBe(QUEUED_WRITE_BYTES_MAX);
  });

  test('a write larger than any buffer gets a larger one', async () => {
    const file = await new FileStorage().open(join(dir, 'log'), 'create', { syncEachWrite, queuedWrites: true });
    const big = new Uint8Array(3 * 1024 * 1024 + 5);
    for (let i = 0; i < big.length; i += 4096) big[i] = (i >> 12) & 0xff;
    await file.queueDurableWrite!(big, 10);
    await file.close();
    const contents = readFileSync(join(dir, 'log'));
    expect(contents.length).toBe(big.length + 10);
    expect(Buffer.compare(contents.subarray(10), big)).toBe(0);
  });
});

const LIBRARY = fileURLToPath(new URL('../../dist/src/index.js', import.meta.url));
const FILE_STORAGE = fileURLToPath(new URL('../../dist/src/storage/file-storage.js', import.meta.url));

/** Runs `source` as a program; its output once it exits by itself (the test times out if it hangs). */
async function runChild(source: string): Promise<string> {
  const program = join(dir, 'child.mjs');
  writeFileSync(program, source);
  const { stdout } = await promisify(execFile)(process.execPath, [program], { timeout: 60_000 });
  return stdout.trim();
}

describe('the write thread and process exit', () => {
  test('a process with a queued write pending stays alive until it is written, then exits', async () => {
    // Nothing else keeps this process alive: no timer, no open handle but the file descriptor.
    const output = await runChild(`import { FileStorage } from ${JSON.stringify(FILE_STORAGE)};
const file = await new FileStorage().open(${JSON.stringify(join(dir, 'log'))}, 'create', { queuedWrites: true });
file.queueDurableWrite(new Uint8Array(8 * 1024 * 1024).fill(3), 0).then(() => console.log('written'));
`);
    expect(output).toBe('written');
    expect(statSync(join(dir, 'log')).size).toBe(8 * 1024 * 1024);
  });

  test('a process that handed batches over and closed its database exits', async () => {
    const output = await runChild(`import { open, defineComponent, t } from ${JSON.stringify(LIBRARY)};
const Position = defineComponent('Position', { x: t.f64, y: t.f64, z: t.f64 });
const db = await open({ dir: ${JSON.stringify(join(dir, 'db'))}, components: [Position], durability: 'buffered', config: false, wal: { batchSizeBytesMax: 4096 } });
await db.transact((tx) => tx.create(), { durability: 'strict' }).durable; // the segment exists
for (let i = 0; i < 2000; i++) db.transact((tx) => tx.add(tx.create(), Position, { x: i }));
await db.close();
console.log('closed');
`);
    expect(output).toBe('closed');
  });
});
