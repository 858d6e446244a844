/**
 * wal.pollStrictWrites: while a write that a strict commit (or flush()) waits for is in flight,
 * the writer keeps the event loop turning with setImmediate, and stops once the write is done.
 * Buffered batches written on the interval never poll. The storage here delays each WAL write
 * (plain or queued) by a timer, standing in for a disk, so "in flight" lasts long enough to see.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { open, type Database } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import type { OpenOptions as StorageOpenOptions, OpenMode, Storage, StorageFile } from '../../src/storage/storage.js';
import { Position } from '../helpers/fixtures.js';

const DIR = '/data/db';
const WRITE_DELAY_MS = 20;

/** The simulated storage, with every write to a WAL segment finishing WRITE_DELAY_MS later. */
function slowWalStorage(): Storage {
  const inner = new SimulatedStorage();
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== 'open') return Reflect.get(target, property, receiver) as unknown;
      return async (path: string, mode: OpenMode, options?: StorageOpenOptions): Promise<StorageFile> => {
        const file = await target.open(path, mode, options);
        if (!path.endsWith('.wal')) return file;
        // Queued writes wait their turn, each its delay, then join the real queue in order.
        let queue: Promise<unknown> = Promise.resolve();
        return new Proxy(file, {
          get(fileTarget, name, fileReceiver) {
            const value = Reflect.get(fileTarget, name, fileReceiver) as unknown;
            if (name === 'queueDurableWrite') {
              return (data: Uint8Array, position: number) => {
                const copy = data.slice();
                const written = queue.then(() => new Promise((resolve) => setTimeout(resolve, WRITE_DELAY_MS))).then(() => fileTarget.queueDurableWrite!(copy, position));
                queue = written.catch(() => undefined);
                return written;
              };
            }
            if (name !== 'write') return typeof value === 'function' ? value.bind(fileTarget) : value;
            return async (data: Uint8Array, position: number) => {
              await new Promise((resolve) => setTimeout(resolve, WRITE_DELAY_MS));
              await fileTarget.write(data, position);
            };
          },
        });
      };
    },
  });
}

/** How many setImmediate calls `run` led to, counting until it settles and a few turns after. */
async function immediatesDuring(run: () => Promise<unknown>): Promise<{ during: number; after: number }> {
  const spy = vi.spyOn(globalThis, 'setImmediate');
  try {
    await run();
    const during = spy.mock.calls.length;
    await new Promise((resolve) => setTimeout(resolve, 3 * WRITE_DELAY_MS));
    return { during, after: spy.mock.calls.length - during };
  } finally {
    spy.mockRestore();
  }
}

describe('wal.pollStrictWrites', () => {
  let db: Database | undefined;
  afterEach(async () => {
    await db?.close();
    db = undefined;
  });

  async function openWith(pollStrictWrites: boolean): Promise<Database> {
    const opened = await open({ dir: DIR, storage: slowWalStorage(), components: [Position], durability: 'strict', config: false, wal: { pollStrictWrites } });
    await opened.transact((tx) => tx.add(tx.create(), Position)).durable; // the segment exists
    return opened;
  }

  test('on: the event loop turns while a strict commit is written, and stops once it is durable', async () => {
    db = await openWith(true);
    const counts = await immediatesDuring(() => db!.transact((tx) => tx.set(0, Position, { x: 1 })).durable);
    // Back-to-back turns over a 20 ms write: far more than the few a commit makes by itself.
    expect(counts.during).toBeGreaterThan(50);
    expect(counts.after).toBeLessThanOrEqual(1);
    expect(db.get(0, Position)?.x).toBe(1);
  });

  test('on: flush() of buffered commits polls too; the interval flush does not', async () => {
    db = await open({ dir: DIR, storage: slowWalStorage(), components: [Position], durability: 'buffered', config: false, wal: { pollStrictWrites: true, flushIntervalMs: 5 } });
    await db.transact((tx) => tx.add(tx.create(), Position)).durable;
    const flushed = await immediatesDuring(async () => {
      db!.transact((tx) => tx.set(0, Position, { x: 2 }));
      await db!.flush();
    });
    expect(flushed.during).toBeGreaterThan(50);
    const timed = await immediatesDuring(() => db!.transact((tx) => tx.set(0, Position, { x: 3 })).durable);
    expect(timed.during).toBeLessThan(10);
  });

  test('off (the default): a strict commit waits without polling', async () => {
    db = await openWith(false);
    const counts = await immediatesDuring(() => db!.transact((tx) => tx.set(0, Position, { x: 1 })).durable);
    expect(counts.during).toBeLessThan(10);
  });

  test('can be switched at run time', async () => {
    db = await openWith(false);
    db.configure({ wal: { pollStrictWrites: true } });
    const counts = await immediatesDuring(() => db!.transact((tx) => tx.set(0, Position, { x: 1 })).durable);
    expect(counts.during).toBeGreaterThan(50);
  });
});
