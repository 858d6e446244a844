/**
 * Commit times in the WAL (format version 2, time records): what the writer records under a
 * controlled clock, what openAt({ timeMs }) finds from it, the cost in bytes, and that time
 * records keep torn tails and corruption apart.
 */
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { open, openAt, type Database } from '../../src/index.js';
import { Position } from '../helpers/fixtures.js';
import {
  RECORD_KIND_TIME,
  SEGMENT_HEADER_SIZE_BYTES,
  TIME_RECORD_SIZE_BYTES,
  checkRecordAt,
  recordKindAt,
  recordLsnAt,
  recordTimeMsAt,
} from '../../src/wal/format.js';
import { BOTH_STORAGES, flipByte, readBytes, segmentNames, segmentPath, truncateFile, type DirFixture } from '../helpers/db-dir.js';
import { HERMETIC, MANUAL_SNAPSHOTS, expectTyped, rejectionOf } from '../helpers/snapshot-dir.js';

interface Entry {
  readonly offset: number;
  readonly kind: number;
  readonly lsn: number;
  readonly timeMs: number | undefined;
}

/** Every record of a segment, walked with the format's own checks. */
function entries(bytes: Uint8Array): Entry[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const out: Entry[] = [];
  for (let offset = SEGMENT_HEADER_SIZE_BYTES; offset < bytes.length; ) {
    const end = checkRecordAt(bytes, view, offset);
    if (typeof end === 'string') throw new Error(`bad record at ${offset}: ${end}`);
    const kind = recordKindAt(bytes, offset);
    out.push({ offset, kind, lsn: recordLsnAt(view, offset), timeMs: kind === RECORD_KIND_TIME ? recordTimeMsAt(view, offset) : undefined });
    offset = end;
  }
  return out;
}

async function allEntries(fixture: DirFixture): Promise<Entry[][]> {
  const result: Entry[][] = [];
  for (const name of await segmentNames(fixture)) result.push(entries(await readBytes(fixture.files, segmentPath(fixture, name))));
  return result;
}

/** A clock the test sets; open() reads it for commit times (and for everything else it times). */
function testClock(startMs: number) {
  const clock = { nowMs: startMs, now: () => clock.nowMs };
  return clock;
}

describe.each(BOTH_STORAGES)('commit times on $name', (kind) => {
  let fixture: DirFixture;
  beforeEach(async () => {
    fixture = await kind.create();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const openAtClock = (now: () => number, wal = {}): Promise<Database> =>
    open({ ...HERMETIC, dir: fixture.dir, storage: fixture.storage, components: [Position], now, wal: { flushIntervalMs: 60_000, ...wal }, snapshot: MANUAL_SNAPSHOTS });

  const commitAt = (db: Database, clock: { nowMs: number }, ms: number, x: number) => {
    clock.nowMs = ms;
    return db.transact((tx) => (x === 0 ? void tx.add(tx.create(), Position, { x }) : tx.set(0, Position, { x }))).lsn;
  };

  it('records one time per millisecond with commits, never going back, and finds the LSN of a time', async () => {
    const clock = testClock(1_000);
    const db = await openAtClock(clock.now);
    // LSN:          1      2      3      4      5      6 (clock back)  7
    const times = [1_000, 1_000, 1_000, 1_005, 1_005, 1_003, 1_010];
    times.forEach((ms, i) => commitAt(db, clock, ms, i));
    // A snapshot ending at LSN 7: the view of LSN 7 replays nothing, yet knows its time.
    expect((await db.snapshot()).endLsn).toBe(7);
    await db.close();
    const recorded = (await allEntries(fixture)).flat().filter((e) => e.kind === RECORD_KIND_TIME);
    expect(recorded.map((e) => [e.lsn, e.timeMs])).toEqual([
      [1, 1_000],
      [4, 1_005],
      [7, 1_010],
    ]);
    const lsnAt = async (timeMs: number) => {
      const view = await openAt({ dir: fixture.dir, storage: fixture.storage, components: [Position], timeMs });
      return [view.lsn, view.timeMs];
    };
    expect(await lsnAt(999)).toEqual([0, undefined]);
    expect(await lsnAt(1_000)).toEqual([3, 1_000]);
    expect(await lsnAt(1_004)).toEqual([3, 1_000]);
    expect(await lsnAt(1_005)).toEqual([6, 1_005]);
    expect(await lsnAt(1_009)).toEqual([6, 1_005]);
    expect(await lsnAt(1_010)).toEqual([7, 1_010]);
    const latest = await openAt({ dir: fixture.dir, storage: fixture.storage, components: [Position], lsn: 7 });
    expect(latest.source).toEqual({ snapshot: '00000000000000000007.snap', recordsReplayed: 0 });
    expect(await lsnAt(9e12)).toEqual([7, 1_010]);
    const view = await openAt({ dir: fixture.dir, storage: fixture.storage, components: [Position], lsn: 5 });
    expect([view.timeMs, view.get(0, Position)?.x]).toEqual([1_005, 4]);
  });

  it('starts each writer session with a time, never below the times already in the log', async () => {
    const clock = testClock(5_000);
    let db = await openAtClock(clock.now);
    commitAt(db, clock, 5_000, 0);
    await db.close();
    clock.nowMs = 4_000; // the clock stepped back while the database was closed
    db = await openAtClock(clock.now);
    commitAt(db, clock, 4_000, 1);
    commitAt(db, clock, 6_000, 2);
    await db.close();
    const recorded = (await allEntries(fixture)).flat().filter((e) => e.kind === RECORD_KIND_TIME);
    expect(recorded.map((e) => [e.lsn, e.timeMs])).toEqual([
      [1, 5_000],
      [2, 5_000],
      [3, 6_000],
    ]);
  });

  it('starts every segment with a time record, so each tells its times alone', async () => {
    const clock = testClock(7_000);
    const db = await openAtClock(clock.now, { segmentSizeBytesMax: 4096 });
    for (let i = 0; i < 400; i++) {
      commitAt(db, clock, 7_000, i);
      if (i % 10 === 9) await db.flush();
    }
    await db.close();
    const segments = await allEntries(fixture);
    expect(segments.length).toBeGreaterThan(2);
    for (const segment of segments) {
      expect(segment[0].kind).toBe(RECORD_KIND_TIME);
      expect(segment[0].timeMs).toBe(7_000);
      expect(segment.filter((e) => e.kind === RECORD_KIND_TIME)).toHaveLength(1);
    }
  });

  it('costs one 25-byte time record per millisecond with commits, and nothing per commit', async () => {
    const walBytes = async () => {
      let total = 0;
      for (const name of await segmentNames(fixture)) total += (await fixture.files.stat(segmentPath(fixture, name)))!.sizeBytes;
      return total;
    };
    const clock = testClock(10_000);
    // No preallocated zeros: the files' sizes are then the records' bytes.
    const db = await openAtClock(clock.now, { preallocateBytes: 0 });
    commitAt(db, clock, 10_000, 0);
    await db.flush();
    const start = await walBytes();
    for (let i = 1; i <= 100; i++) commitAt(db, clock, 10_000, i); // all in one millisecond
    await db.flush();
    const sameMs = (await walBytes()) - start;
    for (let i = 1; i <= 100; i++) commitAt(db, clock, 10_000 + i, i + 1000); // each in its own
    await db.flush();
    const eachMs = (await walBytes()) - start - sameMs;
    await db.close();
    expect(eachMs - sameMs).toBe(100 * TIME_RECORD_SIZE_BYTES);
  });
});

describe.each(BOTH_STORAGES)('time records, torn tails and corruption on $name', (kind) => {
  let fixture: DirFixture;
  let lastSegment: string;
  let segmentEntries: Entry[];
  beforeEach(async () => {
    fixture = await kind.create();
    const clock = testClock(20_000);
    const db = await open({ ...HERMETIC, dir: fixture.dir, storage: fixture.storage, components: [Position], now: clock.now, snapshot: MANUAL_SNAPSHOTS });
    for (let i = 0; i < 6; i++) {
      clock.nowMs = 20_000 + i;
      db.transact((tx) => (i === 0 ? void tx.add(tx.create(), Position) : tx.set(0, Position, { x: i })));
      await db.flush();
    }
    await db.close();
    [lastSegment] = (await segmentNames(fixture)).slice(-1);
    segmentEntries = entries(await readBytes(fixture.files, segmentPath(fixture, lastSegment)));
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  const reopen = () => open({ ...HERMETIC, dir: fixture.dir, storage: fixture.storage, components: [Position], snapshot: MANUAL_SNAPSHOTS });

  it('a torn write set after its time record is cut; the next commit continues at its LSN', async () => {
    const last = segmentEntries.at(-1)!;
    expect(segmentEntries.at(-2)!.kind).toBe(RECORD_KIND_TIME);
    await truncateFile(fixture.files, segmentPath(fixture, lastSegment), last.offset + 5);
    const db = await reopen();
    expect(db.lsn).toBe(5);
    expect(db.recovery!.wal.tornTail?.offset).toBe(last.offset);
    expect(db.transact((tx) => tx.set(0, Position, { x: 60 })).lsn).toBe(6);
    await db.close();
    const again = await reopen();
    expect(again.get(0, Position)?.x).toBe(60);
    await again.close();
  });

  it('a damaged time record followed by its intact write set and a later write is corruption, never a torn tail', async () => {
    // Each flush wrote [time record, write set]; damage in the last write alone would look torn.
    const time = segmentEntries.at(-4)!;
    expect(time.kind).toBe(RECORD_KIND_TIME);
    await flipByte(fixture.files, segmentPath(fixture, lastSegment), time.offset + 20);
    const before = await readBytes(fixture.files, segmentPath(fixture, lastSegment));
    expectTyped(await rejectionOf(reopen()), 'CORRUPT_WAL', lastSegment, `offset ${time.offset}`);
    expect(await readBytes(fixture.files, segmentPath(fixture, lastSegment))).toEqual(before);
  });

  it('a time record with an intact checksum but a wrong size, or a record of an unknown kind, is corruption', async () => {
    const { encodeRecord } = await import('../../src/wal/format.js');
    const path = segmentPath(fixture, lastSegment);
    const bytes = await readBytes(fixture.files, path);
    for (const [kindByte, payload, what] of [
      [RECORD_KIND_TIME, new Uint8Array(9), '9-byte payload'],
      [7, new Uint8Array(1), 'unknown kind 7'],
    ] as const) {
      const bad = encodeRecord(7, kindByte, payload);
      const file = new Uint8Array(bytes.length + bad.length);
      file.set(bytes);
      file.set(bad, bytes.length);
      await truncateFile(fixture.files, path, 0);
      const handle = await fixture.files.open(path, 'readwrite');
      await handle.write(file, 0);
      await handle.sync();
      await handle.close();
      expectTyped(await rejectionOf(reopen()), 'CORRUPT_WAL', lastSegment, what);
    }
  });
});

describe('openAt({ timeMs }) outside retention', () => {
  let fixture: DirFixture;
  beforeEach(async () => {
    fixture = await BOTH_STORAGES[1].create();
  });
  afterEach(async () => {
    await fixture.cleanup();
  });

  it('refuses a time before the oldest retained commit once the WAL start was pruned', async () => {
    const clock = testClock(30_000);
    const db = await open({
      ...HERMETIC,
      dir: fixture.dir,
      components: [Position],
      now: clock.now,
      wal: { segmentSizeBytesMax: 4096 },
      snapshot: MANUAL_SNAPSHOTS,
      archive: { segmentCountMax: 1 },
    });
    for (let i = 0; i < 600; i++) {
      clock.nowMs = 30_000 + i;
      db.transact((tx) => (i === 0 ? void tx.add(tx.create(), Position) : tx.set(0, Position, { x: i })));
      if (i % 50 === 49) await db.flush();
    }
    await db.snapshot();
    await db.close();
    const archived = await fixture.files.list(join(fixture.dir, 'archive'));
    const oldest = Math.min(...archived.map((name) => Number(name.slice(0, 20))));
    expect(oldest).toBeGreaterThan(1);
    expectTyped(await rejectionOf(openAt({ dir: fixture.dir, components: [Position], timeMs: 30_000 })), 'OUT_OF_RETENTION', 'oldest retained commit');
    const view = await openAt({ dir: fixture.dir, components: [Position], timeMs: 30_000 + 599 });
    expect([view.lsn, view.get(0, Position)?.x]).toEqual([600, 599]);
  });
});
