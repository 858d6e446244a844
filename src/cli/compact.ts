/**
 * `ecsdb compact`: (offline) recover, write a fresh snapshot (which archives the WAL it
 * covers), then drop what recovery no longer needs: older snapshots outside the new snapshot's
 * chain, and archived WAL segments wholly before its start LSN. Reports the bytes freed.
 *
 * Steps (a Ctrl-C stops between two of them, see interrupt.ts; a crash may stop inside one):
 *   1. open (recover) and take a snapshot: the snapshot subsystem's own crash safety holds (a
 *      crash leaves the old MANIFEST or the new one, and at most a stray temp file);
 *   2. replace the MANIFEST atomically (temp → fsync → rename → directory fsync) to name only
 *      the new chain: a crash leaves the old MANIFEST or the new one, both whole;
 *   3. delete, one file at a time (unlink, then fsync of its directory), the snapshot files
 *      outside the chain and the archived segments before it: a crash leaves some of them,
 *      unreferenced, which recovery ignores and a second run deletes.
 */
import { join } from 'node:path';
import { fileStorage } from '../db/open-persistent.js';
import { readManifest, writeManifest, type SnapshotEntry } from '../snapshot/manifest.js';
import { SNAPSHOT_DIR_NAME, isSnapshotTempFileName, parseSnapshotFileName } from '../snapshot/format.js';
import { acquireDirectoryLock } from '../storage/dir-lock.js';
import { ARCHIVE_DIR_NAME, listAllSegments } from '../wal/archive.js';
import { WAL_DIR_NAME, indexOfSegmentHolding, listSegmentFiles, openStored, type CommonOptions } from './common.js';
import { beforeStep } from './interrupt.js';

export interface CompactResult {
  readonly dir: string;
  readonly snapshot: SnapshotEntry;
  readonly deleted: readonly { file: string; sizeBytes: number }[];
  readonly bytesFreed: number;
}

export async function compactDirectory(dir: string, options: CommonOptions): Promise<CompactResult> {
  const { db } = await openStored(dir, options);
  try {
    await beforeStep('take a snapshot');
    await db.snapshot();
  } finally {
    await db.close();
  }
  const storage = fileStorage;
  const lock = await acquireDirectoryLock(storage, dir);
  try {
    const entries = (await readManifest(storage, dir))?.snapshots ?? [];
    const newest = [...entries].sort((a, b) => b.endLsn - a.endLsn)[0];
    // The chain of the newest snapshot: itself and its bases.
    const keep: SnapshotEntry[] = [];
    for (let entry: SnapshotEntry | undefined = newest; entry !== undefined && keep.length <= entries.length; ) {
      keep.unshift(entry);
      const base: string | undefined = entry.base;
      entry = base === undefined ? undefined : entries.find((e) => e.file === base);
    }
    await beforeStep('replace the MANIFEST to name only the newest snapshot chain');
    await writeManifest(storage, dir, { snapshots: keep });
    const deleted: { file: string; sizeBytes: number }[] = [];
    const remove = async (parent: string, name: string, file: string) => {
      const path = join(parent, name);
      const stat = await storage.stat(path);
      if (stat === undefined) return;
      await beforeStep(`delete ${file}`);
      await storage.unlink(path);
      // Durable before the next step, so that a stop between steps loses no finished one.
      await storage.syncDirectory(parent);
      deleted.push({ file, sizeBytes: stat.sizeBytes });
    };
    const snapshotsDir = join(dir, SNAPSHOT_DIR_NAME);
    const kept = new Set(keep.map((e) => e.file));
    if ((await storage.stat(snapshotsDir)) !== undefined) {
      for (const name of await storage.list(snapshotsDir)) {
        if ((parseSnapshotFileName(name) !== undefined && !kept.has(name)) || isSnapshotTempFileName(name)) await remove(snapshotsDir, name, `${SNAPSHOT_DIR_NAME}/${name}`);
      }
    }
    // Archived segments recovery from the newest snapshot never reads (see recover-wal.ts): every
    // archived file before the segment it starts at, stale copies included.
    const all = await listAllSegments(storage, join(dir, WAL_DIR_NAME), join(dir, ARCHIVE_DIR_NAME));
    const firstNeeded = all[indexOfSegmentHolding(all, newest.startLsn + 1)];
    for (const file of await listSegmentFiles(dir)) {
      if (file.archived && firstNeeded !== undefined && file.firstLsn < firstNeeded.firstLsn) {
        await remove(file.parent, file.relative.slice(ARCHIVE_DIR_NAME.length + 1), file.relative);
      }
    }
    return { dir, snapshot: newest, deleted, bytesFreed: deleted.reduce((sum, d) => sum + d.sizeBytes, 0) };
  } finally {
    await lock.release();
  }
}

export function formatCompact(result: CompactResult): string {
  return `${[
    `snapshot ${result.snapshot.file}: LSN ${result.snapshot.startLsn}..${result.snapshot.endLsn}`,
    ...result.deleted.map((d) => `  deleted ${d.file} (${d.sizeBytes} bytes)`),
    `${result.bytesFreed} bytes freed`,
  ].join('\n')}\n`;
}
