/**
 * Recovery of a whole database directory: the newest valid snapshot, then the WAL from its start
 * LSN + 1. A snapshot that is missing, damaged, or not connected to the WAL that remains is
 * skipped (the report says why) in favour of the next older one. Without any usable snapshot,
 * the WAL is replayed from LSN 1 if it still starts there; otherwise recovery fails rather than
 * load a world with a gap.
 *
 * Nothing on disk changes here: a torn WAL tail is found and returned (`cut`) for open() to cut
 * once it has decided to open the directory (see db/open-persistent.ts).
 *
 * The world is rebuilt in the schema that wrote the data: each snapshot with the schema epoch it
 * was taken in, and the WAL converted at each later epoch's first LSN (recovery/migrate.ts), so
 * the world returned is in the schema of the epoch of the log's last record.
 */
import { join } from 'node:path';
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef } from '../schema/component.js';
import { epochAt, historyOf, type DatabaseMeta } from '../meta/meta-file.js';
import { FRAME_HEADER_SIZE_BYTES } from '../encoding/framed.js';
import { MANIFEST_FILE_NAME, readManifest, type SnapshotEntry } from '../snapshot/manifest.js';
import { loadSnapshot, readSnapshotIdentity } from '../snapshot/snapshot-reader.js';
import { SNAPSHOT_DIR_NAME, parseSnapshotFileName } from '../snapshot/format.js';
import type { Storage } from '../storage/storage.js';
import type { WalTail } from '../wal/wal-writer.js';
import { World } from '../world/world.js';
import { recoverWal, type TailCut, type WalRecoveryReport } from './recover-wal.js';
import { componentsFor, schemaChangesAfter, type SchemaMigrationReport } from './migrate.js';

export interface SnapshotRecoveryReport {
  readonly file: string;
  readonly startLsn: number;
  readonly endLsn: number;
  readonly loadMs: number;
}

export interface RecoveryReport {
  /** True when the directory held no database and one was created. */
  readonly created: boolean;
  /** The snapshot the world was loaded from, or undefined when the WAL was replayed from LSN 1. */
  readonly snapshot: SnapshotRecoveryReport | undefined;
  /** Newer snapshots that could not be used, and why. */
  readonly skippedSnapshots: readonly { file: string; reason: string }[];
  /** Set when the manifest itself was damaged (snapshots were then found by listing). */
  readonly manifestProblem: string | undefined;
  readonly wal: WalRecoveryReport;
  readonly totalMs: number;
  /** Set when this open migrated the stored schema to the application's (see docs/api.md). */
  readonly schemaMigration?: SchemaMigrationReport;
}

export interface RecoveryDirs {
  readonly dir: string;
  readonly walDir: string;
  readonly archiveDir: string;
  readonly snapshotsDir: string;
}

export interface Recovered {
  readonly world: World;
  readonly report: RecoveryReport;
  readonly tail: WalTail;
  readonly manifest: SnapshotEntry[];
  /** A torn WAL tail the caller must cut before it continues the log. */
  readonly cut: TailCut | undefined;
}

export async function recoverDatabase(
  storage: Storage,
  dirs: RecoveryDirs,
  meta: DatabaseMeta,
  components: readonly AnyComponentDef[],
  created: boolean,
  now: () => number,
): Promise<Recovered> {
  const context: Context = { storage, dirs, meta, components, created, now, startedMs: now() };
  const { entries, manifestProblem, unpublished } = await snapshotCandidates(storage, dirs);
  try {
    return await recoverFrom(context, entries, manifestProblem);
  } catch (error) {
    // No manifest, yet snapshot files: normally a first snapshot that a crash kept from being
    // published, which the full WAL makes unnecessary. Only if the WAL no longer starts at
    // LSN 1 was a manifest lost; then the listed files are the candidates.
    if (unpublished.length === 0 || !(error instanceof EcsdbError) || error.detail !== 'wal-gap') throw error;
    return recoverFrom(context, unpublished, 'the snapshot manifest is missing although the WAL was archived; snapshot files were found by listing');
  }
}

interface Context {
  readonly storage: Storage;
  readonly dirs: RecoveryDirs;
  readonly meta: DatabaseMeta;
  readonly components: readonly AnyComponentDef[];
  readonly created: boolean;
  readonly now: () => number;
  readonly startedMs: number;
}

/** The newest usable snapshot among `entries` plus the WAL after it, else the WAL from LSN 1. */
async function recoverFrom(context: Context, entries: SnapshotEntry[], manifestProblem: string | undefined): Promise<Recovered> {
  const { storage, dirs, meta, components, created, now, startedMs } = context;
  const skipped: { file: string; reason: string }[] = [];
  const history = historyOf(meta);
  // Where the newest skipped snapshot's problem lies: the place to look when none is usable.
  let firstProblem: { file?: string; offset?: number } | undefined;
  for (const entry of [...entries].sort((a, b) => b.endLsn - a.endLsn)) {
    // A snapshot never spans a schema change (a migration happens while the database is not
    // open), so the epoch at its end LSN is the schema it was written in.
    const epoch = epochAt(history, entry.endLsn);
    const loadStartMs = now();
    try {
      const chain = await readChain(storage, dirs.snapshotsDir, entries, entry);
      const image = new World(componentsFor(epoch.schema, components));
      const loaded = loadSnapshot(image, chain, meta.databaseId, epoch.schema);
      const snapshot = { file: entry.file, startLsn: loaded.header.startLsn, endLsn: loaded.header.endLsn, loadMs: now() - loadStartMs };
      const plan = {
        walDir: dirs.walDir,
        archiveDir: dirs.archiveDir,
        fromLsn: snapshot.startLsn + 1,
        throughLsnMin: snapshot.endLsn,
        schemaChanges: schemaChangesAfter(history, epoch, components),
      };
      const { report, tail, world, cut } = await recoverWal(storage, plan, meta.databaseId, image, now);
      const recoveryReport = { created, snapshot, skippedSnapshots: skipped, manifestProblem, wal: report, totalMs: now() - startedMs };
      return { world, report: recoveryReport, tail, manifest: withoutSkipped(entries, skipped), cut };
    } catch (error) {
      if (!isSkippable(error)) throw error;
      skipped.push({ file: entry.file, reason: (error as Error).message });
      firstProblem ??= locationOf(error, `${SNAPSHOT_DIR_NAME}/${entry.file}`);
    }
  }
  try {
    const first = history[0];
    const schemaChanges = schemaChangesAfter(history, first, components);
    const plan = { walDir: dirs.walDir, archiveDir: dirs.archiveDir, fromLsn: 1, throughLsnMin: 0, schemaChanges };
    const { report, tail, world, cut } = await recoverWal(storage, plan, meta.databaseId, new World(componentsFor(first.schema, components)), now);
    return {
      world,
      report: { created, snapshot: undefined, skippedSnapshots: skipped, manifestProblem, wal: report, totalMs: now() - startedMs },
      tail,
      manifest: withoutSkipped(entries, skipped),
      cut,
    };
  } catch (error) {
    if (skipped.length === 0 || !isSkippable(error)) throw error;
    throw new EcsdbError(
      'CORRUPT_SNAPSHOT',
      `no valid snapshot connects to the WAL that remains, and the WAL no longer starts at LSN 1: ${skipped.map((s) => `${s.file}: ${s.reason}`).join('; ')}; nothing was changed on disk`,
      { cause: error, ...firstProblem },
    );
  }
}

/** The file and offset an error names; a missing file (ENOENT) is `file` itself, at offset 0. */
function locationOf(error: unknown, file: string): { file?: string; offset?: number } {
  if (error instanceof EcsdbError) return error.file === undefined ? {} : { file: error.file, offset: error.offset };
  return { file, offset: 0 };
}

/**
 * The manifest entries still worth keeping: not the snapshots recovery had to skip, nor any
 * incremental one whose chain runs through them. The next snapshot publishes this list, so a
 * damaged file never displaces a good older one.
 */
function withoutSkipped(entries: readonly SnapshotEntry[], skipped: readonly { file: string }[]): SnapshotEntry[] {
  const bad = new Set(skipped.map((s) => s.file));
  const usable = (entry: SnapshotEntry | undefined, depth: number): boolean => {
    if (entry === undefined || bad.has(entry.file) || depth > entries.length) return false;
    return entry.base === undefined || usable(entries.find((e) => e.file === entry.base), depth + 1);
  };
  return entries.filter((entry) => usable(entry, 0));
}

/** The files of the chain ending in `entry`, full snapshot first. */
export async function readChain(storage: Storage, snapshotsDir: string, entries: readonly SnapshotEntry[], entry: SnapshotEntry) {
  const chain: { bytes: Uint8Array; path: string }[] = [];
  let current: SnapshotEntry | undefined = entry;
  while (current !== undefined) {
    // The MANIFEST's payload passed its checksum, so it was written so: reported at its start.
    const inManifest = { file: MANIFEST_FILE_NAME, offset: FRAME_HEADER_SIZE_BYTES };
    if (chain.length > entries.length) throw new EcsdbError('CORRUPT_SNAPSHOT', `snapshot ${entry.file}: its base chain loops`, inManifest);
    chain.unshift({ bytes: await storage.readFile(join(snapshotsDir, current.file)), path: `${SNAPSHOT_DIR_NAME}/${current.file}` });
    const baseFile: string | undefined = current.base;
    if (baseFile === undefined) break;
    current = entries.find((e) => e.file === baseFile);
    if (current === undefined) throw new EcsdbError('CORRUPT_SNAPSHOT', `snapshot ${entry.file} builds on ${baseFile}, which the manifest does not name`, inManifest);
  }
  return chain;
}

/**
 * A problem an older snapshot may get around: the snapshot is damaged or missing, or the WAL it
 * needs has a gap. Damage in the WAL itself is not: every snapshot would replay through it.
 */
function isSkippable(error: unknown): boolean {
  if (error instanceof EcsdbError) return error.code === 'CORRUPT_SNAPSHOT' || error.detail === 'wal-gap';
  return (error as { code?: unknown }).code === 'ENOENT';
}

interface Candidates {
  readonly entries: SnapshotEntry[];
  readonly manifestProblem: string | undefined;
  /** Snapshot files found while no manifest exists (see recoverDatabase). */
  readonly unpublished: SnapshotEntry[];
}

async function snapshotCandidates(storage: Storage, dirs: RecoveryDirs): Promise<Candidates> {
  const listed = () => snapshotEntriesByListing(storage, dirs.snapshotsDir);
  try {
    const manifest = await readManifest(storage, dirs.dir);
    if (manifest !== undefined) return { entries: [...manifest.snapshots], manifestProblem: undefined, unpublished: [] };
    return { entries: [], manifestProblem: undefined, unpublished: await listed() };
  } catch (error) {
    if (!(error instanceof EcsdbError) || error.code !== 'CORRUPT_SNAPSHOT') throw error;
    // The manifest is damaged: every complete snapshot file is a candidate (each is verified
    // whole before use, and was fsynced before it got its final name).
    return { entries: await listed(), manifestProblem: error.message, unpublished: [] };
  }
}

/**
 * Manifest entries for the snapshot files in `snapshotsDir`, from what each file says of itself
 * (LSNs, and the base of an incremental one, so chains load without the MANIFEST). A file whose
 * header is unreadable gets the end LSN of its name; loading it then fails and it is skipped.
 */
export async function snapshotEntriesByListing(storage: Storage, snapshotsDir: string): Promise<SnapshotEntry[]> {
  const names = (await storage.stat(snapshotsDir)) === undefined ? [] : await storage.list(snapshotsDir);
  const entries: SnapshotEntry[] = [];
  for (const file of names.filter((name) => parseSnapshotFileName(name) !== undefined)) {
    const bytes = await storage.readFile(join(snapshotsDir, file));
    const identity = readSnapshotIdentity(bytes);
    const sizeBytes = bytes.length;
    if (identity === undefined) {
      entries.push({ file, startLsn: 0, endLsn: parseSnapshotFileName(file)!, createdAtMs: 0, sizeBytes });
    } else {
      const { base, ...lsns } = identity;
      entries.push({ file, ...lsns, sizeBytes, ...(base === undefined ? {} : { base }) });
    }
  }
  return entries;
}
