/**
 * The snapshotter: decides when to snapshot (every N commits, every T ms, or once the WAL grew
 * by B bytes, or on request), runs at most one snapshot at a time (a request during one joins
 * it), publishes it in the manifest, drops snapshots beyond the newest K, and archives and prunes
 * the WAL it covers.
 *
 * A failed background snapshot changes nothing that recovery relies on (the manifest still names
 * the previous snapshots); its error is kept in `lastError` and rejects `db.snapshot()`.
 */
import { setImmediate as nextTurn } from 'node:timers/promises';
import { join } from 'node:path';
import { io } from '../storage/io.js';
import type { Storage } from '../storage/storage.js';
import type { DataCipher } from '../crypto/cipher.js';
import { archiveSegments, pruneArchive, type ArchiveOptions } from '../wal/archive.js';
import { readManifest, writeManifest, type SnapshotEntry } from './manifest.js';
import { isSnapshotTempFileName, parseSnapshotFileName } from './format.js';
import { ByteWriter } from '../encoding/bytes.js';
import { writeSnapshot, type SnapshotSource, type SnapshotStats } from './snapshot-writer.js';
import { DirtyChunks } from './dirty-chunks.js';

export interface SnapshotPolicy {
  /** Snapshot after this many commits since the last one (0 = never). */
  everyCommits: number;
  /** Snapshot this often (0 = never). */
  everyMs: number;
  /** Snapshot once the WAL grew by this many bytes since the last one (0 = never). */
  walBytesMax: number;
  /** Snapshots kept (the newest); at least 1. */
  keep: number;
  compress: boolean;
  chunkSlots: number;
  /**
   * Every M-th snapshot is full and the others are incremental (only changed chunks, chained to
   * the previous snapshot). 1 = every snapshot is full.
   */
  fullEvery: number;
}

export interface SnapshotterOptions {
  readonly storage: Storage;
  readonly dir: string;
  readonly snapshotsDir: string;
  readonly walDir: string;
  readonly archiveDir: string;
  readonly databaseId: Uint8Array;
  readonly now: () => number;
  readonly policy: SnapshotPolicy;
  readonly archive: ArchiveOptions;
  /** WAL bytes written so far (for the size trigger). */
  readonly walBytesWritten: () => number;
  /** Seals snapshots and compressed archives of an encrypted database. */
  readonly cipher?: DataCipher;
}

export class Snapshotter {
  #running: Promise<SnapshotStats> | undefined;
  #commitsSince = 0;
  #walBytesAtLast: number;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  lastError: Error | undefined;
  lastStats: SnapshotStats | undefined;

  constructor(
    private readonly source: SnapshotSource,
    private readonly options: SnapshotterOptions,
    private manifest: SnapshotEntry[],
  ) {
    this.#walBytesAtLast = options.walBytesWritten();
    this.#armTimer();
    this.#trackChanges();
  }

  /** The chunk buffer every snapshot of this database encodes into (see SnapshotWriterOptions). */
  readonly #chunkBuffer = new ByteWriter(64 * 1024);
  /** Where a chunk is copied before its sections are deflated (snapshot.compress). */
  readonly #stagingBuffer = new ByteWriter(64 * 1024);

  /** A base the next snapshot may build on: taken in this process, with the same chunking. */
  #incrementalBase: SnapshotEntry | undefined;

  /** Starts (or stops) dirty-chunk tracking to match the policy; the next snapshot is then full. */
  #trackChanges(): void {
    const { fullEvery, chunkSlots } = this.options.policy;
    const world = this.source.world;
    const tracking = world.dirtyChunks;
    if (fullEvery > 1 && tracking?.chunkSlots === chunkSlots) return;
    world.dirtyChunks = fullEvery > 1 ? new DirtyChunks(chunkSlots, world.tables.length) : undefined;
    this.#incrementalBase = undefined;
  }

  get policy(): SnapshotPolicy {
    return this.options.policy;
  }

  /** The published snapshots, oldest first. */
  get snapshots(): readonly SnapshotEntry[] {
    return this.manifest;
  }

  /** Applies a changed policy at once (run-time settings). */
  setPolicy(policy: Partial<SnapshotPolicy>): void {
    Object.assign(this.options.policy, policy);
    this.#armTimer();
    this.#trackChanges();
  }

  /** Called after every commit: starts a snapshot when the policy says so. */
  noteCommit(): void {
    this.#commitsSince++;
    const { everyCommits, walBytesMax } = this.options.policy;
    const dueByCommits = everyCommits > 0 && this.#commitsSince >= everyCommits;
    const dueByBytes = walBytesMax > 0 && this.options.walBytesWritten() - this.#walBytesAtLast >= walBytesMax;
    if ((dueByCommits || dueByBytes) && this.#running === undefined) this.#background();
  }

  /** Takes a snapshot (or joins the running one); resolves when it is published. */
  snapshot(): Promise<SnapshotStats> {
    if (this.#running !== undefined) return this.#running;
    const running = io(() => this.#run(), 'taking a snapshot').finally(() => {
      this.#running = undefined;
    });
    this.#running = running;
    return running;
  }

  /** Waits for a running snapshot, then stops the timer. */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    if (this.#running !== undefined) await this.#running.catch(() => undefined);
  }

  #background(): void {
    this.snapshot().catch((error: Error) => {
      this.lastError = error;
    });
  }

  #armTimer(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    const everyMs = this.options.policy.everyMs;
    if (everyMs <= 0 || this.#closed) return;
    this.#timer = setInterval(() => {
      if (this.#running === undefined && this.#commitsSince > 0) this.#background();
    }, everyMs);
    this.#timer.unref();
  }

  async #run(): Promise<SnapshotStats> {
    const { storage, snapshotsDir, dir, policy } = this.options;
    this.#commitsSince = 0;
    this.#walBytesAtLast = this.options.walBytesWritten();
    // Nothing committed since the newest snapshot: it is this snapshot. Writing another would
    // give it the same name (the end LSN) and replace the file the manifest describes; an
    // incremental one would even name itself as its base.
    const newest = this.manifest[this.manifest.length - 1];
    if (newest !== undefined && newest.endLsn === this.source.currentLsn()) return { entry: newest, longestStepMs: 0, chunkCount: 0 };
    await storage.mkdir(snapshotsDir);
    const base = this.#chooseBase();
    const stats = await writeSnapshot(this.source, {
      base,
      storage,
      snapshotsDir,
      databaseId: this.options.databaseId,
      compress: policy.compress,
      chunkSlots: policy.chunkSlots,
      now: this.options.now,
      yieldToCommits: () => nextTurn(),
      cipher: this.options.cipher,
      chunkBuffer: this.#chunkBuffer,
      stagingBuffer: this.#stagingBuffer,
    });
    // Publish: the manifest names the new snapshot and the newest K - 1 before it.
    const entries = [...this.manifest.filter((e) => e.file !== stats.entry.file), stats.entry].sort((a, b) => a.endLsn - b.endLsn);
    const kept = withBases(entries, entries.slice(-Math.max(1, policy.keep)));
    await writeManifest(storage, dir, { snapshots: kept });
    this.manifest = kept;
    this.#incrementalBase = this.options.policy.fullEvery > 1 ? stats.entry : undefined;
    this.lastStats = stats;
    this.lastError = undefined;
    await this.#removeUnlisted(kept);
    const { walDir, archiveDir, archive } = this.options;
    await archiveSegments(storage, walDir, archiveDir, stats.entry.startLsn, archive, this.options.cipher);
    await pruneArchive(storage, walDir, archiveDir, kept[0].startLsn + 1, archive);
    return stats;
  }

  /** Deletes snapshot files (and stray temp files) the manifest no longer names. */
  async #removeUnlisted(kept: readonly SnapshotEntry[]): Promise<void> {
    const { storage, snapshotsDir } = this.options;
    const names = new Set(kept.map((e) => e.file));
    let removed = 0;
    for (const name of await storage.list(snapshotsDir)) {
      const isSnapshot = parseSnapshotFileName(name) !== undefined;
      // Only one snapshot runs at a time and ours is renamed by now: any temp file is a stray.
      const isTemp = isSnapshotTempFileName(name);
      if ((isSnapshot && !names.has(name)) || isTemp) {
        await storage.unlink(join(snapshotsDir, name));
        removed++;
      }
    }
    if (removed > 0) await storage.syncDirectory(snapshotsDir);
  }

  /** The snapshot to build an incremental one on, or undefined when this one must be full. */
  #chooseBase(): SnapshotEntry | undefined {
    const base = this.#incrementalBase;
    const { fullEvery, chunkSlots } = this.options.policy;
    if (base === undefined || fullEvery <= 1 || this.source.world.dirtyChunks?.chunkSlots !== chunkSlots) return undefined;
    if (!this.manifest.some((e) => e.file === base.file)) return undefined;
    return chainLength(this.manifest, base) < fullEvery ? base : undefined;
  }

  static async loadManifest(storage: Storage, dir: string): Promise<SnapshotEntry[]> {
    return [...((await readManifest(storage, dir))?.snapshots ?? [])];
  }
}

/** How many snapshots the chain ending in `entry` holds (a full snapshot alone is 1). */
function chainLength(entries: readonly SnapshotEntry[], entry: SnapshotEntry): number {
  let length = 1;
  let current: SnapshotEntry | undefined = entry;
  while (current?.base !== undefined) {
    const baseFile: string = current.base;
    current = entries.find((e) => e.file === baseFile);
    length++;
  }
  return length;
}

/** `kept` plus every snapshot their chains build on, oldest first. */
function withBases(all: readonly SnapshotEntry[], kept: readonly SnapshotEntry[]): SnapshotEntry[] {
  const files = new Set<string>();
  for (const entry of kept) {
    let current: SnapshotEntry | undefined = entry;
    while (current !== undefined && !files.has(current.file)) {
      files.add(current.file);
      const baseFile: string | undefined = current.base;
      current = baseFile === undefined ? undefined : all.find((e) => e.file === baseFile);
    }
  }
  return all.filter((e) => files.has(e.file));
}
