/**
 * `ecsdb compact`: (offline) recover, write a fresh snapshot (which archives the WAL it
 * covers), then drop what recovery no longer needs: older snapshots outside the new snapshot's
 * chain, and archived WAL segments wholly before its start LSN. Reports the bytes freed.
 *
 * Crash safety: the MANIFEST is replaced atomically (temp → fsync → rename → directory fsync)
 * to name only the new chain before any file is deleted; an interruption after that leaves
 * unreferenced files that recovery ignores and a second run deletes.
 */
import { join } from 'node:path';
import { fileStorage } from '../db/open-persistent.js';
import { readManifest, writeManifest, type SnapshotEntry } from '../snapshot/manifest.js';
import { SNAPSHOT_DIR_NAME } from '../snapshot/format.js';
import { acquireDirectoryLock } from '../storage/dir-lock.js';
import { ARCHIVE_DIR_NAME, listAllSegments } from '../wal/archive.js';
import { openStored, type CommonOptions } from './common.js';

export interface CompactResult {
  readonly dir: string;
  readonly snapshot: SnapshotEntry;
  readonly deleted: readonly { file: string; sizeBytes: number }[];
  readonly bytesFreed: number;
}

export async function compactDirectory(dir: string, options: CommonOptions): Promise<CompactResult> {
  const { db } = await openStored(dir, options);
  try {
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
    await writeManifest(storage, dir, { snapshots: keep });
    const deleted: { file: string; sizeBytes: number }[] = [];
    const remove = async (path: string, file: string) => {
      const stat = await storage.stat(path);
      if (stat === undefined) return;
      await storage.unlink(path);
      deleted.push({ file, sizeBytes: stat.sizeBytes });
    };
    const snapshotsDir = join(dir, SNAPSHOT_DIR_NAME);
    const kept = new Set(keep.map((e) => e.file));
    if ((await storage.stat(snapshotsDir)) !== undefined) {
      for (const name of await storage.list(snapshotsDir)) {
        if (/^\d{20}\.snap(\.tmp)?$/.test(name) && !kept.has(name)) await remove(join(snapshotsDir, name), `${SNAPSHOT_DIR_NAME}/${name}`);
      }
      await storage.syncDirectory(snapshotsDir);
    }
    // Archived segments recovery from the newest snapshot never reads (see recover-wal.ts).
    const archiveDir = join(dir, ARCHIVE_DIR_NAME);
    const all = await listAllSegments(storage, join(dir, 'wal'), archiveDir);
    const fromLsn = newest.startLsn + 1;
    let startIndex = 0;
    while (startIndex + 1 < all.length && all[startIndex + 1].firstLsn <= fromLsn) startIndex++;
    if ((await storage.stat(archiveDir)) !== undefined) {
      const needed = new Set(all.slice(startIndex).map((s) => s.firstLsn));
      for (const file of await storage.list(archiveDir)) {
        const segment = all.find((s) => s.archived && file.startsWith(s.name));
        if (segment !== undefined && !needed.has(segment.firstLsn)) await remove(join(archiveDir, file), `${ARCHIVE_DIR_NAME}/${file}`);
      }
      await storage.syncDirectory(archiveDir);
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
