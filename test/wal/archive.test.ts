/**
 * WAL archival after crashes (src/wal/archive.ts), on the simulated storage, whose crash model
 * keeps a renamed file under both names when only the target directory was fsynced.
 */
import { inflateSync } from 'fflate';
import { expect, test } from 'vitest';
import { SimulatedStorage } from '../../src/storage/simulated-storage.js';
import { archiveSegments, pruneArchive } from '../../src/wal/archive.js';
import { segmentFileName } from '../../src/wal/format.js';
import { countTurns } from '../helpers/event-loop.js';

const WAL = '/db/wal';
const ARCHIVE = '/db/archive';
const PLAIN = { compress: false, segmentCountMax: 1, sizeBytesMax: 0 };

async function durableFile(storage: SimulatedStorage, path: string, text: string): Promise<void> {
  const file = await storage.open(path, 'create');
  await file.write(new TextEncoder().encode(text), 0);
  await file.sync();
  await file.close();
}

// Regression (found by the crash states of test/snapshot/crash.test.ts): a crash between the
// archive directory's fsync and the wal directory's left a segment under both names, one file;
// every later archival renamed it onto itself, which does nothing, so the live name stayed for
// good and the archived copy was never pruned.
test('a segment a crash left under both its live and archived names loses its live name at the next archival', async () => {
  const storage = new SimulatedStorage();
  await storage.mkdir(WAL);
  await storage.mkdir(ARCHIVE);
  for (const lsn of [1, 5, 9]) await durableFile(storage, `${WAL}/${segmentFileName(lsn)}`, `records from ${lsn}`);
  await storage.syncDirectory(WAL);
  await storage.rename(`${WAL}/${segmentFileName(1)}`, `${ARCHIVE}/${segmentFileName(1)}`);
  await storage.syncDirectory(ARCHIVE);
  const survivor = storage.crash({ tear: 'none' });
  expect(await survivor.list(WAL), 'the crash kept the live name').toContain(segmentFileName(1));
  expect(await survivor.list(ARCHIVE)).toEqual([segmentFileName(1)]);

  expect(await archiveSegments(survivor, WAL, ARCHIVE, 8, PLAIN)).toBe(2);
  expect(await survivor.list(WAL)).toEqual([segmentFileName(9)]);
  expect(await survivor.list(ARCHIVE)).toEqual([segmentFileName(1), segmentFileName(5)]);
  expect(new TextDecoder().decode(await survivor.readFile(`${ARCHIVE}/${segmentFileName(1)}`))).toBe('records from 1');
  // And the archive can now be pruned to its limit.
  expect(await pruneArchive(survivor, WAL, ARCHIVE, 9, PLAIN)).toBe(1);
  expect(await survivor.list(ARCHIVE)).toEqual([segmentFileName(5)]);
});

// A whole segment (64 MiB by default) took fflate's deflateSync ~15 ms per MiB on the main
// thread after every snapshot; it is compressed in libuv's thread pool now (encoding/deflate.ts).
test('compressing a segment for the archive leaves the event loop turning, and the archive inflates to the segment', async () => {
  const storage = new SimulatedStorage();
  await storage.mkdir(WAL);
  const segment = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < segment.length; i++) segment[i] = (i * 7919) % 251;
  const first = await storage.open(`${WAL}/${segmentFileName(1)}`, 'create');
  await first.write(segment, 0);
  await first.sync();
  await first.close();
  await durableFile(storage, `${WAL}/${segmentFileName(100)}`, 'the live segment');
  await storage.syncDirectory(WAL);

  const turns = countTurns();
  expect(await archiveSegments(storage, WAL, ARCHIVE, 99, { compress: true, segmentCountMax: 0, sizeBytesMax: 0 })).toBe(1);
  const counted = turns.stop();
  // The simulated storage never waits for a macrotask itself: only off-thread compression lets one run.
  expect(counted).toBeGreaterThan(0);
  expect(await storage.list(ARCHIVE)).toEqual([`${segmentFileName(1)}.deflate`]);
  const archived = inflateSync(await storage.readFile(`${ARCHIVE}/${segmentFileName(1)}.deflate`));
  expect(Buffer.from(archived).equals(Buffer.from(segment)), 'the archive inflates to the segment').toBe(true);
});
