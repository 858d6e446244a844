/**
 * `ecsdb validate`: checks every checksum in a data directory without changing anything and
 * without taking the lock: the meta file, the MANIFEST, every snapshot (each chain loaded into
 * a scratch world by the snapshot reader) and every WAL segment, live and archived, with the LSN
 * sequence across them. Each problem names the file and, where known, the byte offset.
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import { fileStorage } from '../db/open-persistent.js';
import { META_FILE_NAME, schemaAt } from '../meta/meta-file.js';
import { openRecordPayload } from '../crypto/wal-records.js';
import { rekeyCommitted } from '../crypto/rekey-commit.js';
import { MANIFEST_FILE_NAME, readManifest, type SnapshotEntry } from '../snapshot/manifest.js';
import { loadSnapshot } from '../snapshot/snapshot-reader.js';
import { snapshotEntriesByListing } from '../recovery/recover.js';
import { SNAPSHOT_DIR_NAME, parseSnapshotFileName } from '../snapshot/format.js';
import { ARCHIVE_DIR_NAME, listAllSegments, readSegmentBytes } from '../wal/archive.js';
import { scanLiveSegment } from '../wal/segment-reader.js';
import { World } from '../world/world.js';
import { componentsOf, requireMeta, type CliMeta, type CommonOptions } from './common.js';
import { NO_PROGRESS, type Progress } from './progress.js';

export interface Problem {
  /** Path relative to the data directory. */
  readonly file: string;
  /** Byte offset of the damage, when known. */
  readonly offset: number | undefined;
  readonly message: string;
}

export interface Validation {
  readonly dir: string;
  readonly ok: boolean;
  readonly checked: { meta: boolean; manifest: boolean; snapshots: number; segments: number; records: number };
  /** Damage: each makes the exit status 1. */
  readonly problems: readonly Problem[];
  /**
   * Not damage, but worth knowing: a torn tail of the newest WAL segment (the normal outcome of
   * a crash mid-write; open() cuts it, `ecsdb repair` cuts it keeping the bytes).
   */
  readonly warnings: readonly Problem[];
  /** Things worth knowing that are not damage (e.g. snapshot files the MANIFEST does not name). */
  readonly notes: readonly string[];
}

const WAL_DIR_NAME = 'wal';

/**
 * A problem from a reader's error: the file and offset it names (EcsdbError.file/offset), else
 * `file`, the one being checked. They differ when a snapshot's base in its chain is damaged.
 */
function problemOf(file: string, error: unknown): Problem {
  if (error instanceof EcsdbError) return { file: error.file ?? file, offset: error.offset, message: `${error.code}: ${error.message}` };
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return { file, offset: undefined, message: `${file} is missing` };
  throw error;
}

/** The files of the chain ending in `entry`, full snapshot first (paths relative to the directory). */
export async function readChain(dir: string, entries: readonly SnapshotEntry[], entry: SnapshotEntry): Promise<{ bytes: Uint8Array; path: string }[]> {
  const chain: { bytes: Uint8Array; path: string }[] = [];
  let current: SnapshotEntry | undefined = entry;
  while (current !== undefined) {
    if (chain.length > entries.length) throw new EcsdbError('CORRUPT_SNAPSHOT', `snapshot ${entry.file}: its base chain loops`);
    const currentFile: string = current.file;
    chain.unshift({ bytes: await fileStorage.readFile(join(dir, SNAPSHOT_DIR_NAME, currentFile)), path: `${SNAPSHOT_DIR_NAME}/${currentFile}` });
    const base: string | undefined = current.base;
    if (base === undefined) break;
    current = entries.find((e) => e.file === base);
    if (current === undefined) throw new EcsdbError('CORRUPT_SNAPSHOT', `snapshot ${entry.file} builds on ${base}, which the manifest does not name`);
  }
  return chain;
}

/**
 * The snapshot recovery would start from: the newest MANIFEST entry whose chain loads (the WAL
 * it needs is not checked here). undefined when there is none or the MANIFEST is unreadable.
 */
export async function newestLoadableSnapshot(dir: string, meta: CliMeta): Promise<SnapshotEntry | undefined> {
  let entries: readonly SnapshotEntry[];
  try {
    entries = (await readManifest(fileStorage, dir))?.snapshots ?? [];
  } catch (error) {
    if (!(error instanceof EcsdbError)) throw error;
    // A damaged MANIFEST: recovery finds the snapshots by listing, and so does this.
    entries = await snapshotEntriesByListing(fileStorage, join(dir, SNAPSHOT_DIR_NAME), meta.cipher);
  }
  for (const entry of [...entries].sort((a, b) => b.endLsn - a.endLsn)) {
    try {
      loadSnapshot(new World(componentsOf(schemaAt(meta, entry.endLsn))), await readChain(dir, entries, entry), meta.databaseId, schemaAt(meta, entry.endLsn), meta.cipher);
      return entry;
    } catch {
      // damaged or missing: recovery would skip it too
    }
  }
  return undefined;
}

export async function validateDirectory(dir: string, progress: Progress = NO_PROGRESS, options: CommonOptions = {}): Promise<Validation> {
  const storage = fileStorage;
  const problems: Problem[] = [];
  const warnings: Problem[] = [];
  const notes: string[] = [];
  const checked = { meta: false, manifest: false, snapshots: 0, segments: 0, records: 0 };

  let meta: CliMeta | undefined;
  try {
    meta = await requireMeta(dir, options);
    checked.meta = true;
  } catch (error) {
    // Without the right key nothing can be checked: that is the command's failure, not damage.
    if (error instanceof EcsdbError && ['INVALID_ARGUMENT', 'KEY_REQUIRED', 'KEY_INVALID'].includes(error.code)) throw error;
    problems.push(problemOf(META_FILE_NAME, error));
  }
  // Without a readable meta file there is no database id or schema to check the rest against.
  if (meta === undefined) return { dir, ok: false, checked, problems, warnings, notes };
  if (await rekeyCommitted(storage, dir)) {
    notes.push('a key rotation committed but has not moved all its files into place (rekey/); open the database with the new key (or run ecsdb repair or restore) to finish it, then validate');
  }

  // MANIFEST and snapshots.
  let entries: readonly SnapshotEntry[] = [];
  try {
    const manifest = await readManifest(storage, dir);
    checked.manifest = manifest !== undefined;
    entries = manifest?.snapshots ?? [];
  } catch (error) {
    problems.push(problemOf(MANIFEST_FILE_NAME, error));
    // Recovery then finds the snapshots by listing; check those, so no damaged one goes unseen.
    entries = await snapshotEntriesByListing(storage, join(dir, SNAPSHOT_DIR_NAME), meta.cipher);
  }
  const snapshotsDir = join(dir, SNAPSHOT_DIR_NAME);
  const goodSnapshots: SnapshotEntry[] = [];
  const bar = progress('snapshots', entries.length);
  for (const [index, entry] of entries.entries()) {
    bar.tick(index);
    const file = `${SNAPSHOT_DIR_NAME}/${entry.file}`;
    try {
      const chain = await readChain(dir, entries, entry);
      const loaded = loadSnapshot(new World(componentsOf(schemaAt(meta, entry.endLsn))), chain, meta.databaseId, schemaAt(meta, entry.endLsn), meta.cipher);
      if (loaded.header.endLsn !== entry.endLsn || loaded.header.startLsn !== entry.startLsn) {
        problems.push({
          file,
          offset: undefined,
          message: `the MANIFEST says LSN ${entry.startLsn}..${entry.endLsn} but the file says ${loaded.header.startLsn}..${loaded.header.endLsn}`,
        });
      } else {
        goodSnapshots.push(entry);
      }
      checked.snapshots++;
    } catch (error) {
      problems.push(problemOf(file, error));
    }
  }
  bar.end();
  if ((await storage.stat(snapshotsDir)) !== undefined) {
    const named = new Set(entries.map((e) => e.file));
    for (const name of await storage.list(snapshotsDir)) {
      if (parseSnapshotFileName(name) !== undefined && !named.has(name)) {
        notes.push(`${SNAPSHOT_DIR_NAME}/${name} is not named by the MANIFEST (an unpublished or superseded snapshot; recovery ignores it)`);
      }
    }
  }

  // WAL segments, archived and live, as one LSN sequence.
  const walDir = join(dir, WAL_DIR_NAME);
  const archiveDir = join(dir, ARCHIVE_DIR_NAME);
  const segments = (await storage.stat(walDir)) === undefined ? [] : await listAllSegments(storage, walDir, archiveDir);
  const segmentBar = progress('WAL', segments.length);
  let previousLastLsn: number | undefined;
  for (let i = 0; i < segments.length; i++) {
    segmentBar.tick(i);
    const segment = segments[i];
    const file = `${segment.archived ? ARCHIVE_DIR_NAME : WAL_DIR_NAME}/${segment.path.slice(segment.path.lastIndexOf('/') + 1)}`;
    if (previousLastLsn !== undefined && previousLastLsn + 1 !== segment.firstLsn) {
      problems.push({
        file,
        offset: 0,
        message: `starts at LSN ${segment.firstLsn} but the log before it ends at ${previousLastLsn} (records ${previousLastLsn + 1 <= segment.firstLsn - 1 ? `${previousLastLsn + 1}..${segment.firstLsn - 1} missing` : 'overlap'})`,
      });
    }
    try {
      const cipher = meta.cipher;
      const context = { name: file, firstLsn: segment.firstLsn, databaseId: meta.databaseId, isLast: i === segments.length - 1 };
      // validate may run beside the application: the last segment may be written meanwhile.
      const { scan } = await scanLiveSegment(
        () => readSegmentBytes(storage, segment, cipher),
        context,
        (bytes, lsn, start, end) => {
          openRecordPayload(bytes, start, end, lsn, cipher, file); // authenticates a sealed record
          checked.records++;
        },
      );
      // Only the last segment can have a torn tail (scanSegment treats one anywhere else as
      // corruption): what a crash mid-append leaves, which open() cuts. A warning, not damage.
      if (scan.tornBytes > 0 || scan.headerTorn) {
        warnings.push({
          file,
          offset: scan.validEnd,
          message: `torn tail of ${scan.tornBytes} bytes at byte offset ${scan.validEnd} (${scan.tornReason}); open() cuts it, \`ecsdb repair\` cuts it keeping the bytes aside`,
        });
      }
      previousLastLsn = scan.lastLsn;
      checked.segments++;
    } catch (error) {
      problems.push(problemOf(file, error));
      // The records after the damage are unknown; assume the segment ran up to the next one.
      previousLastLsn = i + 1 < segments.length ? segments[i + 1].firstLsn - 1 : undefined;
    }
  }
  segmentBar.end();
  // The log must start at LSN 1 or where a valid snapshot's replay begins.
  if (segments.length > 0 && segments[0].firstLsn > 1 && !goodSnapshots.some((s) => s.startLsn + 1 >= segments[0].firstLsn)) {
    problems.push({
      file: `${segments[0].archived ? ARCHIVE_DIR_NAME : WAL_DIR_NAME}/${segments[0].name}`,
      offset: 0,
      message: `the log starts at LSN ${segments[0].firstLsn} and no valid snapshot covers the records before it`,
    });
  }
  return { dir, ok: problems.length === 0, checked, problems, warnings, notes };
}

export function formatValidation(v: Validation): string {
  const lines = [
    `directory   ${v.dir}`,
    `checked     meta ${v.checked.meta ? 'ok' : '-'}, MANIFEST ${v.checked.manifest ? 'ok' : 'none'}, ${v.checked.snapshots} snapshots, ${v.checked.segments} WAL segments, ${v.checked.records} records`,
    ...v.notes.map((note) => `note: ${note}`),
    ...v.warnings.map((w) => `warning ${w.file}${w.offset === undefined ? '' : ` @${w.offset}`}: ${w.message}`),
    ...v.problems.map((p) => `DAMAGE ${p.file}${p.offset === undefined ? '' : ` @${p.offset}`}: ${p.message}`),
    v.ok ? `ok: no damage found${v.warnings.length === 0 ? '' : ` (${v.warnings.length} warning(s))`}` : `${v.problems.length} problem(s) found`,
  ];
  return `${lines.join('\n')}\n`;
}
