/**
 * WAL preallocation (wal.preallocateBytes): the writer keeps zeros ahead of its records in the
 * current segment, so a durable write overwrites space instead of growing the file; readers take
 * zeros from a record boundary to the end of the last segment for the end of the log. Covered:
 * the writer's layout while open, after close and across rotation; the background fill; what a
 * crash leaves and how it reopens; a failed fill; the reader's rules for zeros (scanSegment);
 * and the tools (validate, inspect, repair, restore) on a directory a crash left with zeros.
 * The crash suites (test/proof, test/wal/crash.test.ts) reopen every state these writes leave.
 */
import { cp, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { EcsdbError, open, type Database, type OpenOptions } from '../../src/index.js';
import { inspectDirectory } from '../../src/cli/inspect.js';
import { repairDirectory } from '../../src/cli/repair.js';
import { restoreDirectory } from '../../src/cli/restore.js';
import { validateDirectory } from '../../src/cli/validate.js';
import { SimulatedStorage, type StorageCallInfo } from '../../src/storage/simulated-storage.js';
import type { Storage } from '../../src/storage/storage.js';
import {
  RECORD_FLAG_STARTS_WRITE,
  RECORD_KIND_WRITE_SET,
  SEGMENT_HEADER_SIZE_BYTES,
  checkRecordAt,
  encodeRecord,
  encodeSegmentHeader,
  recordStartsWrite,
} from '../../src/wal/format.js';
import { scanLiveSegment, scanSegment, type SegmentScan } from '../../src/wal/segment-reader.js';
import { Position } from '../helpers/fixtures.js';

const DIR = '/data/db';
const WAL_DIR = `${DIR}/wal`;
const DATABASE_ID = new Uint8Array(16).fill(7);

async function segmentNamesOf(storage: Storage, walDir = WAL_DIR): Promise<string[]> {
  return (await storage.list(walDir)).filter((name) => name.endsWith('.wal')).sort();
}

/** Scans every segment of the directory as recovery would (only the last may end in zeros). */
async function scanAll(storage: Storage, walDir = WAL_DIR): Promise<{ name: string; size: number; scan: SegmentScan }[]> {
  const names = await segmentNamesOf(storage, walDir);
  const databaseId = (await readDatabaseId(storage, walDir, names[0]))!;
  const result = [];
  for (const [index, name] of names.entries()) {
    const bytes = await storage.readFile(`${walDir}/${name}`);
    const scan = scanSegment(bytes, { name, firstLsn: Number(name.slice(0, 20)), databaseId, isLast: index === names.length - 1 }, () => undefined);
    result.push({ name, size: bytes.length, scan });
  }
  return result;
}

async function readDatabaseId(storage: Storage, walDir: string, name: string): Promise<Uint8Array | undefined> {
  const bytes = await storage.readFile(`${walDir}/${name}`);
  return bytes.slice(12, 28);
}

function openSimulated(storage: SimulatedStorage, wal: OpenOptions['wal'], durability: 'strict' | 'buffered' = 'strict'): Promise<Database> {
  return open({ dir: DIR, storage, components: [Position], durability, wal });
}

async function commit(db: Database, i: number): Promise<void> {
  await db.transact((tx) => tx.add(tx.create(), Position, { x: i, y: i + 1, z: i + 2 }), { durability: 'strict' }).durable;
}

describe('the writer', () => {
  test('keeps zeros after the records of the current segment and writes commits into them without growing the file', async () => {
    const storage = new SimulatedStorage();
    const db = await openSimulated(storage, { preallocateBytes: 8192, segmentSizeBytesMax: 1 << 20 });
    await commit(db, 0);
    const [first] = await scanAll(storage);
    expect(first.scan.unusedBytes).toBeGreaterThan(8192 - 200);
    expect(first.scan.validEnd + first.scan.unusedBytes).toBe(first.size);
    expect(first.scan.tornBytes).toBe(0);
    for (let i = 1; i < 20; i++) await commit(db, i);
    const [later] = await scanAll(storage);
    expect(later.size, 'the commits went into the zeros').toBe(first.size);
    expect(later.scan.lastLsn).toBe(20);
    expect(later.scan.validEnd).toBeGreaterThan(first.scan.validEnd);
    await db.close();
  });

  test('flags the first record of each write, and no other', async () => {
    const storage = new SimulatedStorage();
    const db = await openSimulated(storage, { preallocateBytes: 8192, flushIntervalMs: 60_000 }, 'buffered');
    const writeStarts: number[] = [];
    for (const count of [3, 1, 4, 2]) {
      writeStarts.push((await scanAll(storage).catch(() => undefined))?.[0].scan.validEnd ?? SEGMENT_HEADER_SIZE_BYTES);
      for (let i = 0; i < count; i++) db.transact((tx) => tx.add(tx.create(), Position, { x: i }));
      await db.flush();
    }
    const bytes = await storage.readFile(`${WAL_DIR}/${(await segmentNamesOf(storage))[0]}`);
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const flagged: number[] = [];
    let records = 0;
    for (let offset = SEGMENT_HEADER_SIZE_BYTES; ; ) {
      const end = checkRecordAt(bytes, view, offset);
      if (typeof end === 'string') break;
      records++;
      if (recordStartsWrite(bytes, offset)) flagged.push(offset);
      offset = end;
    }
    expect(records).toBeGreaterThan(10);
    expect(flagged).toEqual(writeStarts);
    await db.close();
  });

  test('a preallocation larger than 4 MiB is written in pieces of at most 4 MiB', async () => {
    const storage = new SimulatedStorage();
    const writes: number[] = [];
    const db = await openSimulated(storage, { preallocateBytes: 9 * 1024 * 1024, segmentSizeBytesMax: 64 * 1024 * 1024 });
    storage.onCall = (info) => {
      if (info.op === 'write') writes.push(info.index);
    };
    await commit(db, 0);
    storage.onCall = undefined;
    const [segment] = await scanAll(storage);
    expect(segment.scan.validEnd + segment.scan.unusedBytes).toBe(segment.size);
    expect(segment.size).toBeGreaterThanOrEqual(9 * 1024 * 1024);
    expect(writes.length, 'header, 4 MiB, 4 MiB, 1 MiB of zeros, then the batch').toBe(5);
    await db.close();
  });

  test('close() trims the segment to its records', async () => {
    const storage = new SimulatedStorage();
    const db = await openSimulated(storage, { preallocateBytes: 8192 });
    for (let i = 0; i < 5; i++) await commit(db, i);
    await db.close();
    const [segment] = await scanAll(storage);
    expect(segment.scan.unusedBytes).toBe(0);
    expect(segment.size).toBe(segment.scan.validEnd);
  });

  test('fills more in the background once less than half is left, never past segmentSizeBytesMax', async () => {
    const storage = new SimulatedStorage();
    const preallocateBytes = 1024;
    const segmentSizeBytesMax = 16 * 1024;
    const db = await openSimulated(storage, { preallocateBytes, segmentSizeBytesMax });
    const sizes = new Set<number>();
    for (let i = 0; i < 400; i++) {
      await commit(db, i);
      const all = await scanAll(storage);
      const last = all.at(-1)!;
      expect(last.size).toBeLessThanOrEqual(segmentSizeBytesMax);
      // At most one fill ahead: preallocateBytes past the records as of when it started.
      expect(last.scan.unusedBytes).toBeLessThanOrEqual(preallocateBytes);
      if (all.length === 1) sizes.add(last.size);
    }
    expect(sizes.size, 'the first segment grew in several fills').toBeGreaterThanOrEqual(5);
    await db.close();
  });

  test('rotation trims the previous segment before the next one exists: only the last ends in zeros', async () => {
    const storage = new SimulatedStorage();
    const calls: StorageCallInfo[] = [];
    storage.onCall = (info) => calls.push(info);
    const db = await openSimulated(storage, { preallocateBytes: 4096, segmentSizeBytesMax: 4096 });
    for (let i = 0; i < 300; i++) await commit(db, i);
    const all = await scanAll(storage); // throws CORRUPT_WAL on zeros in a segment that is not the last
    expect(all.length).toBeGreaterThanOrEqual(3);
    for (const segment of all.slice(0, -1)) expect(segment.size, segment.name).toBe(segment.scan.validEnd);
    expect(all.at(-1)!.scan.unusedBytes).toBeGreaterThan(0);
    // Each truncate is synced before the next segment is created.
    for (const [index, call] of calls.entries()) {
      if (call.op !== 'truncate') continue;
      const rest = calls.slice(index + 1);
      const nextSync = rest.findIndex((later) => later.op === 'sync' && later.path === call.path);
      const nextCreate = rest.findIndex((later) => later.op === 'open' && later.path !== call.path && later.path.endsWith('.wal'));
      expect(nextSync, `truncate of ${call.path} is synced`).toBeGreaterThanOrEqual(0);
      if (nextCreate >= 0) expect(nextSync).toBeLessThan(nextCreate);
    }
    await db.close();
  });

  test('preallocateBytes 0: every write appends, no zeros', async () => {
    const storage = new SimulatedStorage();
    const db = await openSimulated(storage, { preallocateBytes: 0 });
    for (let i = 0; i < 10; i++) await commit(db, i);
    const [segment] = await scanAll(storage);
    expect(segment.scan.unusedBytes).toBe(0);
    expect(segment.size).toBe(segment.scan.validEnd);
    await db.close();
  });

  test('a smaller preallocateBytes set at run time applies to the next fill', async () => {
    const storage = new SimulatedStorage();
    const db = await openSimulated(storage, { preallocateBytes: 2048, segmentSizeBytesMax: 1 << 20 });
    await commit(db, 0);
    db.configure({ wal: { preallocateBytes: 0 } });
    const before = (await scanAll(storage))[0].size;
    for (let i = 1; i < 200; i++) await commit(db, i);
    const [segment] = await scanAll(storage);
    expect(segment.size, 'past the first space, commits appended').toBe(segment.scan.validEnd);
    expect(segment.size).toBeGreaterThan(before);
    await db.close();
  });
});

describe('after a crash', () => {
  for (const tear of ['none', 'all', 'random', 'reorder'] as const) {
    test(`power loss (tear ${tear}) keeps every acknowledged commit; the reopened log goes on in the zeros`, async () => {
      for (let seed = 0; seed < 8; seed++) {
        const storage = new SimulatedStorage({ seed });
        const db = await openSimulated(storage, { preallocateBytes: 1024, segmentSizeBytesMax: 8192 });
        for (let i = 0; i < 60; i++) await commit(db, i);
        const survivor = storage.crash({ tear, seed });
        const reopened = await openSimulated(survivor, { preallocateBytes: 1024, segmentSizeBytesMax: 8192 });
        expect(reopened.lsn).toBe(60);
        expect(reopened.recovery!.wal.tornTail).toBeUndefined();
        expect(reopened.query(Position).length).toBe(60);
        const sizeBefore = (await scanAll(survivor)).at(-1)!;
        await commit(reopened, 60);
        const sizeAfter = (await scanAll(survivor)).at(-1)!;
        if (sizeBefore.scan.unusedBytes > 100) expect(sizeAfter.size, 'the commit went into the zeros').toBe(sizeBefore.size);
        await reopened.close();
        const again = await openSimulated(survivor, {});
        expect(again.lsn).toBe(61);
        await again.close();
      }
    });
  }

  test('a record torn in the zeros is cut as a torn tail', async () => {
    const storage = new SimulatedStorage();
    const db = await openSimulated(storage, { preallocateBytes: 4096 }, 'buffered');
    for (let i = 0; i < 5; i++) await commit(db, i);
    const [segment] = await scanAll(storage);
    // A half-written record after the last one, zeros behind it.
    const torn = encodeRecord(6, RECORD_KIND_WRITE_SET, new Uint8Array(40).fill(9)).subarray(0, 30);
    const survivor = storage.crash({ tear: 'none' });
    const file = await survivor.open(`${WAL_DIR}/${segment.name}`, 'readwrite');
    await file.write(torn, segment.scan.validEnd);
    await file.close();
    const reopened = await openSimulated(survivor, {});
    expect(reopened.lsn).toBe(5);
    expect(reopened.recovery!.wal.tornTail).toMatchObject({ offset: segment.scan.validEnd, bytesCut: segment.size - segment.scan.validEnd });
    await reopened.close();
  });
});

describe('a failed fill', () => {
  test('fails the writer at its next write with IO_FAILED; nothing acknowledged is lost', async () => {
    const wal = { preallocateBytes: 512, segmentSizeBytesMax: 1 << 20 };
    // Find the first background fill: a segment opened a second time, read-write.
    const dry = new SimulatedStorage({ seed: 5 });
    const calls: StorageCallInfo[] = [];
    dry.onCall = (info) => calls.push(info);
    const dryDb = await openSimulated(dry, wal);
    const openedBefore = calls.length;
    for (let i = 0; i < 40; i++) await commit(dryDb, i);
    await dryDb.close();
    const segmentOpens = calls.map((call, index) => ({ call, index })).filter(({ call, index }) => index >= openedBefore && call.op === 'open' && call.path.endsWith('.wal'));
    expect(segmentOpens.length, 'the creation and at least one fill').toBeGreaterThanOrEqual(2);
    const fillWrite = calls.findIndex((call, index) => index > segmentOpens[1].index && call.op === 'write');

    const storage = new SimulatedStorage({ seed: 5 });
    storage.failAt(fillWrite, 'EIO');
    const db = await openSimulated(storage, wal);
    let acknowledged = 0;
    let failure: unknown;
    for (let i = 0; i < 40 && failure === undefined; i++) {
      try {
        await commit(db, i);
        acknowledged = i + 1;
      } catch (error) {
        failure = error;
      }
    }
    expect(failure).toBeInstanceOf(EcsdbError);
    expect((failure as EcsdbError).code).toBe('IO_FAILED');
    expect(() => db.transact((tx) => tx.create())).toThrow(/IO_FAILED|writing the WAL failed/);
    await db.close().catch(() => undefined);
    const reopened = await openSimulated(storage.crash({ tear: 'none' }), {});
    expect(reopened.lsn).toBeGreaterThanOrEqual(acknowledged);
    await reopened.close();
  });
});

describe('scanSegment and zeros', () => {
  const header = encodeSegmentHeader(DATABASE_ID, 1);
  const record1 = encodeRecord(1, RECORD_KIND_WRITE_SET, new Uint8Array([1, 2, 3]));
  const record2 = encodeRecord(2, RECORD_KIND_WRITE_SET, new Uint8Array([4, 5, 6]));
  const segment = (...parts: Uint8Array[]): Uint8Array => {
    const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
    let offset = 0;
    for (const part of parts) {
      bytes.set(part, offset);
      offset += part.length;
    }
    return bytes;
  };
  const scan = (bytes: Uint8Array, isLast: boolean): SegmentScan => scanSegment(bytes, { name: 'wal/x', firstLsn: 1, databaseId: DATABASE_ID, isLast }, () => undefined);
  const zeros = (n: number) => new Uint8Array(n);

  test('zeros after the last record of the last segment end the log cleanly', () => {
    const result = scan(segment(header, record1, zeros(1000)), true);
    expect(result).toMatchObject({ lastLsn: 1, validEnd: SEGMENT_HEADER_SIZE_BYTES + record1.length, tornBytes: 0, unusedBytes: 1000, headerTorn: false });
  });

  test('so do fewer zeros than a record header', () => {
    expect(scan(segment(header, record1, zeros(5)), true)).toMatchObject({ lastLsn: 1, tornBytes: 0, unusedBytes: 5 });
  });

  test('zeros in a segment that is not the last are corruption', () => {
    expect(() => scan(segment(header, record1, zeros(100)), false)).toThrow(expect.objectContaining({ code: 'CORRUPT_WAL' }));
  });

  test('zeros, then bytes that are not a record: a torn tail', () => {
    const bytes = segment(header, record1, zeros(64), new Uint8Array([1, 2, 3]), zeros(64));
    expect(scan(bytes, true)).toMatchObject({ lastLsn: 1, tornBytes: 64 + 3 + 64, unusedBytes: 0 });
  });

  test('zeros, then a valid record that starts a later write: corruption (a durable record was lost)', () => {
    const laterWrite = encodeRecord(2, RECORD_KIND_WRITE_SET | RECORD_FLAG_STARTS_WRITE, new Uint8Array([4, 5, 6]));
    expect(() => scan(segment(header, record1, zeros(64), laterWrite, zeros(64)), true)).toThrow(expect.objectContaining({ code: 'CORRUPT_WAL' }));
  });

  test('zeros, then valid records of the same write: that write was torn out of order, cut', () => {
    expect(scan(segment(header, record1, zeros(64), record2, zeros(64)), true)).toMatchObject({ lastLsn: 1, tornBytes: 64 + record2.length + 64 });
  });

  test('a damaged header followed only by zeros: the segment was never completed, dropped whole', () => {
    const damaged = header.slice();
    damaged[3] ^= 0xff;
    expect(scan(segment(damaged, zeros(4000)), true)).toMatchObject({ headerTorn: true, lastLsn: 0 });
    expect(scan(segment(zeros(4000)), true)).toMatchObject({ headerTorn: true, lastLsn: 0 });
    expect(() => scan(segment(damaged, zeros(4000)), false)).toThrow(expect.objectContaining({ code: 'CORRUPT_WAL' }));
    expect(() => scan(segment(damaged, record1, zeros(100)), true)).toThrow(expect.objectContaining({ code: 'CORRUPT_WAL' }));
  });
});

describe('the tools on a directory a crash left with zeros', () => {
  let root: string;
  let dir: string;

  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'ecsdb-prealloc-'));
    dir = join(root, 'copy');
    // A process crash: the files as the page cache holds them while the database is open.
    const live = join(root, 'live');
    const db = await open({ dir: live, components: [Position], durability: 'strict', wal: { preallocateBytes: 64 * 1024 } });
    for (let i = 0; i < 30; i++) await commit(db, i);
    await cp(live, dir, { recursive: true, filter: (source) => !source.endsWith('LOCK') });
    await db.close();
  });

  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('validate finds nothing wrong and warns of nothing', async () => {
    const validation = await validateDirectory(dir);
    expect(validation.problems).toEqual([]);
    expect(validation.warnings).toEqual([]);
    expect(validation.checked.records).toBeGreaterThanOrEqual(30);
  });

  test('inspect shows the unused space, without a warning', async () => {
    const inspection = await inspectDirectory(dir);
    expect(inspection.warnings).toEqual([]);
    expect(inspection.damage).toEqual([]);
    expect(inspection.lastLsn).toBe(30);
    expect(inspection.segments.at(-1)!.unusedBytes).toBeGreaterThan(60 * 1024);
  });

  test('repair cuts nothing', async () => {
    const result = await repairDirectory(dir);
    expect(result.cut).toBeUndefined();
    expect(result.trimmed).toEqual([]);
  });

  test('restore to the last LSN moves nothing aside; to an earlier one it cuts there', async () => {
    const sizeBefore = (await stat(join(dir, 'wal', '00000000000000000001.wal'))).size;
    const atEnd = await restoreDirectory(dir, { lsn: 30 });
    expect(atEnd.movedAside).toEqual([]);
    expect((await stat(join(dir, 'wal', '00000000000000000001.wal'))).size).toBe(sizeBefore);
    await restoreDirectory(dir, { lsn: 20 });
    const db = await open({ dir, components: [Position] });
    expect(db.lsn).toBe(20);
    expect(db.query(Position).length).toBe(20);
    await db.close();
  });
});

describe('a fill still running when the writer fails', () => {
  test('close() waits for it, so its zeros cannot land on what the next open writes', async () => {
    const inner = new SimulatedStorage({ seed: 9 });
    let fillsStarted = 0;
    let releaseFills!: () => void;
    const fillsReleased = new Promise<void>((resolve) => (releaseFills = resolve));
    // Fills open the segment a second time, read-write: their writes wait for releaseFills().
    const storage = new Proxy(inner, {
      get(target, property, receiver) {
        if (property !== 'open') return Reflect.get(target, property, receiver) as unknown;
        return async (path: string, mode: 'read' | 'readwrite' | 'create', options?: { syncEachWrite?: boolean }) => {
          const file = await target.open(path, mode, options);
          if (!path.endsWith('.wal') || mode !== 'readwrite') return file;
          fillsStarted++;
          return new Proxy(file, {
            get(fileTarget, name, fileReceiver) {
              const value = Reflect.get(fileTarget, name, fileReceiver) as unknown;
              if (name !== 'write') return typeof value === 'function' ? value.bind(fileTarget) : value;
              return async (data: Uint8Array, position: number) => {
                await fillsReleased;
                await fileTarget.write(data, position);
              };
            },
          });
        };
      },
    }) as Storage;
    const db = await open({ dir: DIR, storage, components: [Position], durability: 'strict', wal: { preallocateBytes: 512, segmentSizeBytesMax: 1 << 20 } });
    let i = 0;
    while (fillsStarted === 0) await commit(db, i++);
    inner.failAt(inner.ioCount, 'EIO'); // the next batch's write, while the fill waits
    await expect(commit(db, i)).rejects.toMatchObject({ code: 'IO_FAILED' });
    let closed = false;
    const closing = db.close().then(
      () => (closed = true),
      () => (closed = true),
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(closed, 'close() returned with a fill still to land').toBe(false);
    releaseFills();
    await closing;
    const reopened = await open({ dir: DIR, storage, components: [Position], durability: 'strict' });
    expect(reopened.lsn).toBe(i);
    for (let k = 0; k < 20; k++) await commit(reopened, 1000 + k);
    await reopened.close();
    const again = await open({ dir: DIR, storage, components: [Position] });
    expect(again.lsn).toBe(i + 20);
    await again.close();
  });
});

describe('scanLiveSegment', () => {
  const header = encodeSegmentHeader(DATABASE_ID, 1);
  const records = [1, 2, 3].map((lsn) => encodeRecord(lsn, RECORD_KIND_WRITE_SET | RECORD_FLAG_STARTS_WRITE, new Uint8Array([lsn])));
  const join = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((part) => [...part]));
  const context = { name: 'wal/x', firstLsn: 1, databaseId: DATABASE_ID, isLast: true };
  // A read that caught record 2 still as zeros while record 3, written after it, was already there.
  const raced = join(header, records[0], new Uint8Array(records[1].length), records[2], new Uint8Array(64));
  const settled = join(header, records[0], records[1], records[2], new Uint8Array(64));

  test('damage that a fresh read no longer shows was a write in progress: read again, each record handed over once', async () => {
    const reads = [raced, settled];
    const seen: number[] = [];
    const { scan } = await scanLiveSegment(async () => reads.shift()!, context, (_bytes, lsn) => seen.push(lsn));
    expect(scan.lastLsn).toBe(3);
    expect(seen).toEqual([1, 2, 3]);
  });

  test('damage a fresh read shows again is reported', async () => {
    let reads = 0;
    const read = async () => {
      reads++;
      return raced;
    };
    await expect(scanLiveSegment(read, context, () => undefined)).rejects.toMatchObject({ code: 'CORRUPT_WAL' });
    expect(reads).toBe(2);
  });

  test('in a segment that is not the last, damage is reported at the first read', async () => {
    let reads = 0;
    const read = async () => {
      reads++;
      return raced;
    };
    await expect(scanLiveSegment(read, { ...context, isLast: false }, () => undefined)).rejects.toMatchObject({ code: 'CORRUPT_WAL' });
    expect(reads).toBe(1);
  });
});
