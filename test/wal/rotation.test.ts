/**
 * Segment rotation by size and by age (the clock is injected), and that a rotated log replays.
 */
import { describe, expect, test } from 'vitest';
import { open } from '../../src/index.js';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { SEGMENT_HEADER_SIZE_BYTES, parseSegmentFileName } from '../../src/wal/format.js';
import { Position } from '../helpers/fixtures.js';

const DIR = '/data/db';
const WAL_DIR = `${DIR}/wal`;

async function segmentSizes(storage: SimulatedStorage): Promise<Map<string, number>> {
  const sizes = new Map<string, number>();
  for (const name of await storage.list(WAL_DIR)) sizes.set(name, (await storage.stat(`${WAL_DIR}/${name}`))!.sizeBytes);
  return sizes;
}

describe('segment rotation', () => {
  test('no segment grows past segmentSizeBytesMax when batches are smaller than it', async () => {
    const storage = new SimulatedStorage();
    const db = await open({ dir: DIR, storage, components: [Position], durability: 'strict', wal: { segmentSizeBytesMax: 4096 } });
    for (let i = 0; i < 400; i++) await db.transact((tx) => tx.add(tx.create(), Position, { x: i })).durable;
    await db.close();
    const sizes = await segmentSizes(storage);
    expect(sizes.size).toBeGreaterThanOrEqual(3);
    for (const [name, size] of sizes) {
      expect(size, name).toBeLessThanOrEqual(4096);
      expect(size, name).toBeGreaterThan(SEGMENT_HEADER_SIZE_BYTES);
    }
  });

  test('each segment is named for the LSN of its first record, and the names continue each other', async () => {
    const storage = new SimulatedStorage();
    const db = await open({ dir: DIR, storage, components: [Position], durability: 'strict', wal: { segmentSizeBytesMax: 4096 } });
    for (let i = 0; i < 300; i++) await db.transact((tx) => tx.add(tx.create(), Position, { x: i })).durable;
    await db.close();
    const firstLsns = [...(await segmentSizes(storage)).keys()].map((name) => parseSegmentFileName(name)!);
    expect(firstLsns[0]).toBe(1);
    const reopened = await open({ dir: DIR, storage, components: [Position] });
    expect(reopened.recovery!.wal.segmentCount).toBe(firstLsns.length);
    expect(reopened.recovery!.wal.recordsReplayed).toBe(300);
    expect(reopened.query(Position).length).toBe(300);
    await reopened.close();
  });

  test('a segment older than segmentAgeMsMax is closed at the next flush', async () => {
    let nowMs = 1_000_000;
    const storage = new SimulatedStorage();
    const db = await open({ dir: DIR, storage, components: [Position], durability: 'strict', now: () => nowMs, wal: { segmentAgeMsMax: 1000 } });
    await db.transact((tx) => tx.add(tx.create(), Position)).durable;
    await db.transact((tx) => tx.add(tx.create(), Position)).durable;
    nowMs += 999;
    await db.transact((tx) => tx.add(tx.create(), Position)).durable;
    expect([...(await segmentSizes(storage)).keys()]).toEqual(['00000000000000000001.wal']);
    nowMs += 1;
    await db.transact((tx) => tx.add(tx.create(), Position)).durable;
    expect([...(await segmentSizes(storage)).keys()]).toEqual(['00000000000000000001.wal', '00000000000000000004.wal']);
    await db.close();
  });
});
