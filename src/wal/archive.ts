/**
 * WAL archival: once a snapshot is durable, the segments wholly at or below its start LSN are no
 * longer needed to recover the newest state, only to fall back to an older snapshot (or, later,
 * to travel back in time). They move to `<dir>/archive/`, optionally deflate-compressed
 * (`<name>.deflate`), and the oldest are deleted beyond a count or byte limit.
 *
 * What a crash leaves at each step:
 * - plain move: rename, then fsync of the archive directory, then of the wal directory. A crash
 *   in between may leave the segment under both names (one file); recovery reads one, and the
 *   next archival removes the live name.
 * - compressed: the compressed copy is written whole (temp → fsync → rename → directory fsync)
 *   before the original is unlinked; a crash in between leaves both, which is harmless.
 * - deletion: unlink, then directory fsync; a crash may bring the file back, harmless too.
 */
import { inflateSync } from 'fflate';
import { basename, dirname, join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { ARCHIVE_DEFLATE_LEVEL, deflateInBackground } from '../encoding/deflate.js';
import { moveFile, replaceFileDurably } from '../storage/atomic-file.js';
import type { Storage } from '../storage/storage.js';
import { parseSegmentFileName } from './format.js';
import type { DataCipher } from '../crypto/cipher.js';
import { isSealedArchive, openArchive, sealArchive } from '../crypto/wal-records.js';

export const ARCHIVE_DIR_NAME = 'archive';
export const COMPRESSED_SUFFIX = '.deflate';

export interface SegmentLocation {
  readonly name: string;
  readonly firstLsn: number;
  /** Full path of the file holding it. */
  readonly path: string;
  readonly compressed: boolean;
  readonly archived: boolean;
}

/** Segments in the live directory and the archive, one per first LSN (live copy preferred). */
export async function listAllSegments(storage: Storage, walDir: string, archiveDir: string): Promise<SegmentLocation[]> {
  const byLsn = new Map<number, SegmentLocation>();
  if ((await storage.stat(archiveDir)) !== undefined) {
    for (const file of await storage.list(archiveDir)) {
      const compressed = file.endsWith(COMPRESSED_SUFFIX);
      const name = compressed ? file.slice(0, -COMPRESSED_SUFFIX.length) : file;
      const firstLsn = parseSegmentFileName(name);
      if (firstLsn === undefined) continue;
      if (byLsn.has(firstLsn) && compressed) continue; // a plain copy is cheaper to read
      byLsn.set(firstLsn, { name, firstLsn, path: join(archiveDir, file), compressed, archived: true });
    }
  }
  for (const name of await storage.list(walDir)) {
    const firstLsn = parseSegmentFileName(name);
    if (firstLsn !== undefined) byLsn.set(firstLsn, { name, firstLsn, path: join(walDir, name), compressed: false, archived: false });
  }
  return [...byLsn.values()].sort((a, b) => a.firstLsn - b.firstLsn);
}

/**
 * The segment's file relative to the data directory (`wal/<name>` or `archive/<file>`): the
 * segment and archive directories are the data directory's `wal/` and `archive/`.
 */
export function segmentFile(segment: SegmentLocation): string {
  return `${basename(dirname(segment.path))}/${basename(segment.path)}`;
}

/**
 * The bytes of a segment, inflated if it was archived compressed. A compressed archive of an
 * encrypted database is opened with `cipher` and its records sealed again (wal-records.ts), so
 * callers see one segment form whatever the file was.
 */
export async function readSegmentBytes(storage: Storage, segment: SegmentLocation, cipher?: DataCipher): Promise<Uint8Array> {
  const bytes = await storage.readFile(segment.path);
  if (!segment.compressed) return bytes;
  if (cipher !== undefined || isSealedArchive(bytes)) return openArchive(cipher, bytes, segment.firstLsn, segmentFile(segment));
  try {
    return inflateSync(bytes);
  } catch (error) {
    // fflate does not say where the stream broke; the whole file is unreadable from its start.
    const file = segmentFile(segment);
    throw new EcsdbError('CORRUPT_WAL', `archived WAL segment ${file} cannot be inflated (${(error as Error).message})`, { file, offset: 0 });
  }
}

export interface ArchiveOptions {
  readonly compress: boolean;
  /** Keep at most this many archived segments (0 = no limit). */
  readonly segmentCountMax: number;
  /** Keep at most this many archived bytes (0 = no limit). */
  readonly sizeBytesMax: number;
}

/**
 * Moves the live segments whose every record is at or below `upToLsn` into the archive; the
 * last live segment (the one being written) always stays.
 */
export async function archiveSegments(
  storage: Storage,
  walDir: string,
  archiveDir: string,
  upToLsn: number,
  options: ArchiveOptions,
  cipher?: DataCipher,
): Promise<number> {
  const live = (await listAllSegments(storage, walDir, archiveDir)).filter((segment) => !segment.archived);
  await storage.mkdir(archiveDir);
  let moved = 0;
  for (let i = 0; i + 1 < live.length; i++) {
    const lastLsn = live[i + 1].firstLsn - 1;
    if (lastLsn > upToLsn) break;
    const segment = live[i];
    if (options.compress) {
      const bytes = await storage.readFile(segment.path);
      // Compressed in libuv's thread pool (a whole segment is far too much for the main thread).
      // Encrypted: compress the plain records, then seal (ciphertext does not compress).
      const stored = cipher === undefined ? await deflateInBackground(bytes, ARCHIVE_DEFLATE_LEVEL) : await sealArchive(cipher, bytes, segment.firstLsn, segment.path);
      await replaceFileDurably(storage, archiveDir, `${segment.name}${COMPRESSED_SUFFIX}`, stored);
      await storage.unlink(segment.path);
    } else {
      // A crash before the fsyncs below leaves the segment live, archived, or under both names
      // (moveFile drops a live name left beside the archived one by an earlier crash).
      await moveFile(storage, segment.path, join(archiveDir, segment.name));
      await storage.syncDirectory(archiveDir);
    }
    await storage.syncDirectory(walDir);
    moved++;
  }
  return moved;
}

/**
 * Deletes the oldest archived segments beyond the count and byte limits, but never one that
 * holds records above `keepFromLsn` (the oldest retained snapshot still needs those).
 */
export async function pruneArchive(storage: Storage, walDir: string, archiveDir: string, keepFromLsn: number, options: ArchiveOptions): Promise<number> {
  const all = await listAllSegments(storage, walDir, archiveDir);
  const archived: { segment: SegmentLocation; lastLsn: number; sizeBytes: number }[] = [];
  for (let i = 0; i < all.length; i++) {
    if (!all[i].archived) continue;
    const lastLsn = i + 1 < all.length ? all[i + 1].firstLsn - 1 : Number.MAX_SAFE_INTEGER;
    archived.push({ segment: all[i], lastLsn, sizeBytes: (await storage.stat(all[i].path))?.sizeBytes ?? 0 });
  }
  let count = archived.length;
  let sizeBytes = archived.reduce((sum, a) => sum + a.sizeBytes, 0);
  let deleted = 0;
  for (const entry of archived) {
    const overCount = options.segmentCountMax > 0 && count > options.segmentCountMax;
    const overBytes = options.sizeBytesMax > 0 && sizeBytes > options.sizeBytesMax;
    if (!overCount && !overBytes) break;
    if (entry.lastLsn >= keepFromLsn) break;
    await storage.unlink(entry.segment.path);
    count--;
    sizeBytes -= entry.sizeBytes;
    deleted++;
  }
  if (deleted > 0) await storage.syncDirectory(archiveDir);
  return deleted;
}
