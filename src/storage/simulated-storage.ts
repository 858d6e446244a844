/**
 * An in-memory file system for deterministic crash and fault testing, in the spirit of LevelDB's
 * fault_injection_test and TigerBeetle's testing/storage.zig. It enforces the durability
 * contract of storage.ts and nothing more generous, so code that passes here does not lean on
 * luck that a real disk would not give it.
 *
 * Crash model (what `crash()` keeps, i.e. what survives a power loss):
 * - Every file (a file identity, whatever its names) has durable bytes, those it held at its last
 *   `sync()`, and current bytes, what reads see. `sync()` makes the current bytes durable.
 * - Every directory has durable entries and current entries. `open(…, 'create')`, `rename` and
 *   `unlink` change the current entries at once and become durable only at `syncDirectory()` of
 *   that directory. A crash restores the durable entries: an unsynced creation disappears (even if
 *   the file itself was synced), an unsynced rename reverts, an unsynced unlink comes back.
 * - `mkdir` is durable immediately, parents included. Real file systems need a sync of the parent
 *   for that too; we keep it simple because ecsdb creates its directories once, before any data.
 * - Unsynced bytes, by `tear` mode: 'none' keeps none of them; 'all' keeps every one (the writes
 *   reached the disk without an fsync); 'random' decides per file, independently, so files
 *   reach disk in different orders. Bytes appended beyond the durable length survive as a prefix
 *   of that tail (a torn write; 'random' picks its length uniformly). Writes into the durable
 *   range, and truncates, survive or vanish, one coin per call, applied in call order before
 *   the tail; under 'random' a surviving write keeps a random prefix of its bytes (torn). ecsdb
 *   overwrites synced bytes in place only in the WAL's preallocated zeros, with records that may
 *   tear like an append (prefixes are coarser than real sectors, which may also survive out of
 *   order, in an append as much as here). Under 'all' a
 *   file survives exactly as it reads now; under 'none' exactly as of its last sync. These three
 *   modes keep no unsynced directory entry.
 * - 'reorder' lets unsynced writes and unsynced directory entries reach the disk in a different
 *   order for every file and directory, as a page cache flushing on its own schedule does. Each
 *   file keeps a random prefix of its unsynced writes and truncates, in call order, and the first
 *   write it drops may still survive as a prefix of its bytes (torn); each directory keeps a
 *   random prefix of its unsynced creations, renames and unlinks. Files and directories decide
 *   independently (a file's new name can survive while its bytes do not, and the other way
 *   round); only a rename between two directories is one unit, both halves or neither, as a
 *   journaling file system commits it in one transaction. With no unsynced change a file or
 *   directory survives exactly as it reads now.
 * - 'sectors' keeps, of every unsynced write, a random subset of its 512-byte sectors in no
 *   order (a disk writing a request's sectors in parallel), so a write can survive as later
 *   sectors with earlier ones lost; the file's length reaches the furthest kept sector. Truncates
 *   survive or vanish whole, in call order. Like 'none', 'all' and 'random' it keeps no unsynced
 *   directory entry.
 *
 * Fault model: every Storage and StorageFile method call counts as one I/O call and takes its
 * whole effect at the moment it is made (the promise then settles in a microtask), so a call
 * index names one precise point of a workload. `failAt(i, code)` makes call i throw that code
 * without effect; for a write, `appliedBytes` optionally applies a prefix first, as a short
 * write before ENOSPC does on a real disk. `crashAt(i)` is a power loss at call i: it and every
 * later call throw ECRASHED and change nothing. `crash()` then returns the surviving state.
 */
import { posix } from 'node:path';
import { assert } from '../assert.js';
import { createRandom, deriveSeed, randomBool, randomInt, type Random } from './random.js';
import type { FileStat, OpenMode, OpenOptions, Storage, StorageError, StorageFile } from './storage.js';

export type TearMode = 'none' | 'random' | 'all' | 'reorder' | 'sectors';

export interface CrashOptions {
  /** What happens to bytes written but not synced; 'none' unless given. */
  readonly tear?: TearMode;
  /** Seeds the tear choices; without it the storage's own generator is used (and advanced). */
  readonly seed?: number;
}

export type InjectedErrorCode = 'ENOSPC' | 'EIO';

export interface FailOptions {
  /** For a failing write only: how many of its leading bytes land before the error. */
  readonly appliedBytes?: number;
}

export interface StorageCallInfo {
  /** 0-based index of the call, the number `failAt` and `crashAt` take. */
  readonly index: number;
  /** The method name: open, readFile, rename, unlink, mkdir, syncDirectory, list, stat, or the
   * file methods write, read, sync, truncate, sizeBytes, close. */
  readonly op: string;
  readonly path: string;
  /** The destination of a rename. */
  readonly targetPath?: string;
}

export interface SimulatedStorageOptions {
  readonly seed?: number;
  readonly onCall?: (info: StorageCallInfo) => void;
}

/**
 * A write's bytes stay in the file's `data` (bytes undefined) until a later write or truncate
 * reaches over them; only then are they copied out. Appends (the WAL) are never copied.
 */
type UnsyncedChange =
  | { readonly kind: 'write'; readonly position: number; readonly length: number; bytes: Uint8Array | undefined }
  | { readonly kind: 'truncate'; readonly sizeBytes: number };

interface SimFile {
  readonly kind: 'file';
  /** Current bytes in [0, length); always zero beyond, so growing never needs a fill. */
  data: Uint8Array;
  length: number;
  /** The durable bytes, or null while they are still data[0, durableLength) unchanged: copying
   * only when a write first touches the synced range keeps appends (the WAL) copy-free. */
  durable: Uint8Array | null;
  durableLength: number;
  /** Every write and truncate since the last sync, in call order. */
  changes: UnsyncedChange[];
  /** The end of the furthest write whose bytes are still only in `data` (0 when none). */
  lazyEndBytes: number;
}

/** One unsynced change of a directory's entries: a name set to a node, or removed (undefined). */
interface DirectoryChange {
  readonly effects: readonly (readonly [string, SimNode | undefined])[];
  /** The other half of a rename between two directories. */
  partner: DirectoryChange | undefined;
}

interface SimDirectory {
  readonly kind: 'directory';
  entries: Map<string, SimNode>;
  durableEntries: Map<string, SimNode>;
  /** The changes since the last directory sync, in call order: applied to durableEntries they
   * give entries. */
  changes: DirectoryChange[];
}

type SimNode = SimFile | SimDirectory;

interface InjectedFailure {
  readonly code: InjectedErrorCode;
  readonly appliedBytes: number;
}

/** Counts a call and applies the faults scheduled for it; throws if the call must fail. */
type CallGate = (op: string, path: string, applyPartial?: (appliedBytes: number) => void) => void;

const DEFAULT_SEED = 1;
const MIN_CAPACITY_BYTES = 64;

export class SimulatedStorage implements Storage {
  /** Called at the start of every I/O call, before any fault applies. */
  onCall: ((info: StorageCallInfo) => void) | undefined;

  private root: SimDirectory = newDirectory();
  private readonly seed: number;
  private readonly random: Random;
  private callCount = 0;
  private isCrashed = false;
  private crashAtIndex: number | undefined;
  private readonly failures = new Map<number, InjectedFailure>();
  private nextSyncFailure: InjectedErrorCode | undefined;
  private readonly gate: CallGate = (op, path, applyPartial) =>
    this.beginCall(op, path, undefined, applyPartial);

  constructor(options: SimulatedStorageOptions = {}) {
    this.seed = options.seed ?? DEFAULT_SEED;
    this.random = createRandom(this.seed);
    this.onCall = options.onCall;
  }

  /** How many I/O calls have been made, failed and crashed ones included. */
  get ioCount(): number {
    return this.callCount;
  }

  /** True after a power loss: `crashAt` was reached or `crash()` was called. */
  get crashed(): boolean {
    return this.isCrashed;
  }

  /** Call `callIndex` (see ioCount) throws `code` and has no effect (see FailOptions). */
  failAt(callIndex: number, code: InjectedErrorCode, options: FailOptions = {}): void {
    assert(Number.isInteger(callIndex) && callIndex >= 0, `failAt index must be >= 0: ${callIndex}`);
    this.failures.set(callIndex, { code, appliedBytes: options.appliedBytes ?? 0 });
  }

  /** Power loss at call `callIndex`: it and every later call throw ECRASHED and do nothing. */
  crashAt(callIndex: number): void {
    assert(Number.isInteger(callIndex) && callIndex >= 0, `crashAt index must be >= 0: ${callIndex}`);
    this.crashAtIndex = callIndex;
  }

  /** The next file `sync()` throws `code` and makes nothing durable (directory syncs unaffected). */
  failNextSync(code: InjectedErrorCode): void {
    this.nextSyncFailure = code;
  }

  /**
   * The state a power loss leaves (see the crash model above), as a fresh storage with no open
   * files and no faults scheduled. This storage is powered off too: later calls throw ECRASHED.
   * Calling crash() again, e.g. with other seeds, derives more survivors from the same state.
   */
  crash(options: CrashOptions = {}): SimulatedStorage {
    this.isCrashed = true;
    return this.powerLossImage(options);
  }

  /**
   * What crash(options) would return if the power failed now, without powering this storage
   * off: a run can take the crash image at each of its I/O calls (see onCall) and go on.
   */
  powerLossImage(options: CrashOptions = {}): SimulatedStorage {
    const tear = options.tear ?? 'none';
    const random = options.seed === undefined ? this.random : createRandom(options.seed);
    const cuts = tear === 'reorder' ? directoryCuts(this.root, random) : new Map<SimDirectory, number>();
    const root = copySurvivingTree(this.root, { tear, random, cuts, survivors: new Map() });
    const survivor = new SimulatedStorage({ seed: deriveSeed(random) });
    survivor.root = root;
    return survivor;
  }

  /** An independent copy of the whole state, durable and unsynced, with fresh call counting and
   * no faults scheduled: build a state once, then clone it for each run. */
  clone(options: { seed?: number } = {}): SimulatedStorage {
    const copy = new SimulatedStorage({ seed: options.seed ?? this.seed });
    copy.root = cloneNode(this.root, { nodes: new Map(), changes: new Map() }) as SimDirectory;
    return copy;
  }

  /** Current content of every file by absolute path, sorted by path; for assertions. */
  snapshotFiles(): Map<string, Uint8Array> {
    const files = new Map<string, Uint8Array>();
    collectFiles(this.root, '', files);
    return files;
  }

  async open(path: string, mode: OpenMode, options?: OpenOptions): Promise<StorageFile> {
    this.beginCall('open', path);
    const { parent, name, node } = this.lookup(path, 'open');
    const syncEachWrite = options?.syncEachWrite === true;
    if (mode === 'create') {
      if (node !== undefined) throw storageError('EEXIST', 'open', path);
      const file = newFile();
      setEntry(parent, name, file);
      return new SimulatedFile(this.gate, file, path, true, syncEachWrite);
    }
    return new SimulatedFile(this.gate, this.requireFile(node, 'open', path), path, mode === 'readwrite', syncEachWrite);
  }

  async readFile(path: string): Promise<Uint8Array> {
    this.beginCall('readFile', path);
    const file = this.requireFile(this.lookup(path, 'open').node, 'open', path);
    return file.data.slice(0, file.length);
  }

  async rename(from: string, to: string): Promise<void> {
    this.beginCall('rename', from, to);
    const source = this.lookup(from, 'rename');
    const target = this.lookup(to, 'rename');
    const file = this.requireFile(source.node, 'rename', from);
    if (target.node?.kind === 'directory') throw storageError('EISDIR', 'rename', to);
    if (target.node === file) return; // POSIX: renaming a file onto itself does nothing.
    source.parent.entries.delete(source.name);
    target.parent.entries.set(target.name, file);
    if (source.parent === target.parent) {
      source.parent.changes.push({ effects: [[source.name, undefined], [target.name, file]], partner: undefined });
    } else {
      const removal: DirectoryChange = { effects: [[source.name, undefined]], partner: undefined };
      const addition: DirectoryChange = { effects: [[target.name, file]], partner: removal };
      removal.partner = addition;
      source.parent.changes.push(removal);
      target.parent.changes.push(addition);
    }
  }

  async unlink(path: string): Promise<void> {
    this.beginCall('unlink', path);
    const { parent, name, node } = this.lookup(path, 'unlink');
    this.requireFile(node, 'unlink', path);
    setEntry(parent, name, undefined);
  }

  async mkdir(path: string): Promise<void> {
    this.beginCall('mkdir', path);
    const parts = splitPath(path);
    let directory = this.root;
    for (const [index, part] of parts.entries()) {
      let child = directory.entries.get(part);
      if (child === undefined) {
        // Durable at once: see the crash model in the header.
        child = newDirectory();
        directory.entries.set(part, child);
        directory.durableEntries.set(part, child);
      } else if (child.kind === 'file') {
        throw storageError(index === parts.length - 1 ? 'EEXIST' : 'ENOTDIR', 'mkdir', path);
      }
      directory = child;
    }
  }

  async syncDirectory(path: string): Promise<void> {
    this.beginCall('syncDirectory', path);
    const directory = this.requireDirectory(this.lookup(path, 'open').node, 'open', path);
    directory.durableEntries = new Map(directory.entries);
    directory.changes = [];
  }

  async list(path: string): Promise<string[]> {
    this.beginCall('list', path);
    const directory = this.requireDirectory(this.lookup(path, 'scandir').node, 'scandir', path);
    return [...directory.entries.keys()].sort();
  }

  async stat(path: string): Promise<FileStat | undefined> {
    this.beginCall('stat', path);
    let node: SimNode | undefined;
    try {
      node = this.lookup(path, 'stat').node;
    } catch (error) {
      const code = (error as StorageError).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw error;
    }
    if (node === undefined) return undefined;
    if (node.kind === 'directory') return { sizeBytes: 0, isDirectory: true };
    return { sizeBytes: node.length, isDirectory: false };
  }

  private beginCall(
    op: string,
    path: string,
    targetPath?: string,
    applyPartial?: (appliedBytes: number) => void,
  ): void {
    const index = this.callCount++;
    this.onCall?.(targetPath === undefined ? { index, op, path } : { index, op, path, targetPath });
    if (this.crashAtIndex !== undefined && index >= this.crashAtIndex) this.isCrashed = true;
    if (this.isCrashed) throw storageError('ECRASHED', op, path);
    const failure = this.failures.get(index);
    if (failure !== undefined) {
      this.failures.delete(index);
      if (failure.appliedBytes > 0) applyPartial?.(failure.appliedBytes);
      throw storageError(failure.code, op, path);
    }
    if (op === 'sync' && this.nextSyncFailure !== undefined) {
      const code = this.nextSyncFailure;
      this.nextSyncFailure = undefined;
      throw storageError(code, op, path);
    }
  }

  /** Finds the parent directory and the node (if any) at `path`; the root is its own parent. */
  private lookup(path: string, op: string): { parent: SimDirectory; name: string; node: SimNode | undefined } {
    const parts = splitPath(path);
    let directory = this.root;
    for (let index = 0; index < parts.length - 1; index++) {
      const child = directory.entries.get(parts[index]);
      if (child === undefined) throw storageError('ENOENT', op, path);
      if (child.kind === 'file') throw storageError('ENOTDIR', op, path);
      directory = child;
    }
    if (parts.length === 0) return { parent: directory, name: '', node: directory };
    const name = parts[parts.length - 1];
    return { parent: directory, name, node: directory.entries.get(name) };
  }

  private requireFile(node: SimNode | undefined, op: string, path: string): SimFile {
    if (node === undefined) throw storageError('ENOENT', op, path);
    // Directories are never renamed, unlinked or opened as files by ecsdb; refusing keeps the
    // model small, and EISDIR is what Linux says for most of these.
    if (node.kind === 'directory') throw storageError('EISDIR', op, path);
    return node;
  }

  private requireDirectory(node: SimNode | undefined, op: string, path: string): SimDirectory {
    if (node === undefined) throw storageError('ENOENT', op, path);
    if (node.kind === 'file') throw storageError('ENOTDIR', op, path);
    return node;
  }
}

class SimulatedFile implements StorageFile {
  private closed = false;
  /** The last queued durable write, rejected if it or one before it failed. */
  private queued: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly gate: CallGate,
    private readonly file: SimFile,
    readonly path: string,
    private readonly writable: boolean,
    /** O_DSYNC: each write is durable when it returns (a short write before a failure too). */
    private readonly syncEachWrite: boolean,
  ) {}

  get syncsEachWrite(): boolean {
    return this.syncEachWrite;
  }

  async write(data: Uint8Array, position: number): Promise<void> {
    this.gate('write', this.path, (appliedBytes) => {
      if (this.closed || !this.writable) return;
      writeFile(this.file, data.subarray(0, appliedBytes), position);
      if (this.syncEachWrite) syncFile(this.file);
    });
    this.checkUsable('write', true);
    assert(Number.isSafeInteger(position) && position >= 0, `write position must be >= 0: ${position}`);
    writeFile(this.file, data, position);
    if (this.syncEachWrite) syncFile(this.file);
  }

  /**
   * In order after the writes queued before it, each as `write` then (without O_DSYNC) `sync`,
   * every call counted and open to crashes and injected failures like any other; after one
   * fails, the later ones are rejected without a call, as the real write thread does.
   */
  queueDurableWrite(data: Uint8Array, position: number): Promise<void> {
    const bytes = data.slice();
    const written = this.queued.then(
      async () => {
        await this.write(bytes, position);
        if (!this.syncEachWrite) await this.sync();
      },
      () => {
        throw storageError('EIO', 'write', this.path);
      },
    );
    this.queued = written;
    return written;
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    this.gate('read', this.path);
    this.checkUsable('read', false);
    assert(Number.isSafeInteger(position) && position >= 0, `read position must be >= 0: ${position}`);
    assert(Number.isSafeInteger(length) && length >= 0, `read length must be >= 0: ${length}`);
    const end = Math.min(position + length, this.file.length);
    return position >= end ? new Uint8Array(0) : this.file.data.slice(position, end);
  }

  async sync(): Promise<void> {
    this.gate('sync', this.path);
    this.checkUsable('fdatasync', false);
    syncFile(this.file);
  }

  async truncate(sizeBytes: number): Promise<void> {
    this.gate('truncate', this.path);
    this.checkUsable('ftruncate', true);
    assert(Number.isSafeInteger(sizeBytes) && sizeBytes >= 0, `truncate size must be >= 0: ${sizeBytes}`);
    truncateFile(this.file, sizeBytes);
  }

  async sizeBytes(): Promise<number> {
    this.gate('sizeBytes', this.path);
    this.checkUsable('fstat', false);
    return this.file.length;
  }

  async close(): Promise<void> {
    await this.queued.catch(() => undefined);
    this.gate('close', this.path);
    this.closed = true; // Closing twice is harmless, as with Node's FileHandle.
  }

  private checkUsable(op: string, needsWrite: boolean): void {
    if (this.closed || (needsWrite && !this.writable)) throw storageError('EBADF', op, this.path);
  }
}

function newFile(): SimFile {
  return { kind: 'file', data: new Uint8Array(0), length: 0, durable: null, durableLength: 0, changes: [], lazyEndBytes: 0 };
}

function newDirectory(): SimDirectory {
  return { kind: 'directory', entries: new Map(), durableEntries: new Map(), changes: [] };
}

/** Creates, replaces (node) or removes (undefined) one name, unsynced. */
function setEntry(directory: SimDirectory, name: string, node: SimNode | undefined): void {
  if (node === undefined) directory.entries.delete(name);
  else directory.entries.set(name, node);
  directory.changes.push({ effects: [[name, node]], partner: undefined });
}

function writeFile(file: SimFile, bytes: Uint8Array, position: number): void {
  if (bytes.length === 0) return; // pwrite of nothing does not extend the file.
  const end = position + bytes.length;
  if (position < file.durableLength) preserveDurable(file);
  keepUnsyncedBytes(file, position, end);
  file.changes.push({ kind: 'write', position, length: bytes.length, bytes: undefined });
  file.lazyEndBytes = Math.max(file.lazyEndBytes, end);
  ensureCapacity(file, end);
  file.data.set(bytes, position);
  file.length = Math.max(file.length, end);
}

function truncateFile(file: SimFile, sizeBytes: number): void {
  if (sizeBytes < file.durableLength) preserveDurable(file);
  // Every truncate is recorded, not only those below the durable length, because the length a
  // crash leaves depends on all of them in order (shrink, then grow again, then shrink).
  file.changes.push({ kind: 'truncate', sizeBytes });
  if (sizeBytes < file.length) {
    keepUnsyncedBytes(file, sizeBytes, file.length);
    file.data.fill(0, sizeBytes, file.length); // Keeps the zero-beyond-length invariant.
  } else {
    ensureCapacity(file, sizeBytes);
  }
  file.length = sizeBytes;
}

/** Copies out the bytes of earlier unsynced writes that [from, to) of `data` is about to change. */
function keepUnsyncedBytes(file: SimFile, from: number, to: number): void {
  if (from >= file.lazyEndBytes) return; // The common case, an append: nothing to copy.
  for (const change of file.changes) {
    if (change.kind !== 'write' || change.bytes !== undefined) continue;
    const end = change.position + change.length;
    if (change.position < to && end > from) change.bytes = file.data.slice(change.position, end);
  }
}

/** The bytes an unsynced write wrote. */
function bytesOfWrite(file: SimFile, change: Extract<UnsyncedChange, { kind: 'write' }>): Uint8Array {
  return change.bytes ?? file.data.subarray(change.position, change.position + change.length);
}

function syncFile(file: SimFile): void {
  file.durable = null;
  file.durableLength = file.length;
  file.changes = [];
  file.lazyEndBytes = 0;
}

/** Copies the durable bytes out of `data` before something overwrites them. */
function preserveDurable(file: SimFile): void {
  if (file.durable === null) file.durable = file.data.slice(0, file.durableLength);
}

function durableBytes(file: SimFile): Uint8Array {
  return file.durable ?? file.data.subarray(0, file.durableLength);
}

/** Doubling keeps appends amortized O(1), which matters when tests replay thousands of runs. */
function ensureCapacity(file: SimFile, capacityBytes: number): void {
  if (file.data.length >= capacityBytes) return;
  const grown = new Uint8Array(Math.max(capacityBytes, file.data.length * 2, MIN_CAPACITY_BYTES));
  grown.set(file.data.subarray(0, file.length));
  file.data = grown;
}

/** What a power loss leaves of `file` under `tear`; see the crash model in the header. */
function crashImage(file: SimFile, tear: TearMode, random: Random): Uint8Array {
  if (tear === 'reorder') return reorderedImage(file, random);
  if (tear === 'sectors') return sectorImage(file, random);
  const durableLength = file.durableLength;
  const tailLength = Math.max(0, file.length - durableLength);
  const image = new Uint8Array(imageCapacity(file));
  image.set(durableBytes(file));
  let imageLength = durableLength;
  for (const change of file.changes) {
    // Only writes into the durable range flip a coin here; what lies beyond it is the tail.
    if (change.kind === 'write' && change.position >= durableLength) continue;
    if (!keepsUnsynced(tear, random)) continue;
    if (change.kind === 'truncate') {
      imageLength = applyTruncate(image, imageLength, change.sizeBytes);
      continue;
    }
    const inside = bytesOfWrite(file, change).subarray(0, durableLength - change.position);
    imageLength = applyWrite(image, imageLength, change.position, tear === 'random' ? inside.subarray(0, randomInt(random, inside.length + 1)) : inside);
  }
  const keptTailLength = tornTailLength(tear, random, tailLength);
  if (keptTailLength > 0) {
    image.set(file.data.subarray(durableLength, durableLength + keptTailLength), durableLength);
    imageLength = Math.max(imageLength, durableLength + keptTailLength);
  }
  return image.subarray(0, imageLength);
}

/** 'reorder': a random prefix of the file's unsynced changes, the first dropped write torn. */
function reorderedImage(file: SimFile, random: Random): Uint8Array {
  const image = new Uint8Array(imageCapacity(file));
  image.set(durableBytes(file));
  let imageLength = file.durableLength;
  const keptCount = randomInt(random, file.changes.length + 1);
  for (const [index, change] of file.changes.entries()) {
    if (index > keptCount) break;
    if (change.kind === 'truncate') {
      if (index < keptCount) imageLength = applyTruncate(image, imageLength, change.sizeBytes);
      continue;
    }
    const bytes = bytesOfWrite(file, change);
    const keptBytes = index < keptCount ? bytes : bytes.subarray(0, randomInt(random, bytes.length + 1));
    imageLength = applyWrite(image, imageLength, change.position, keptBytes);
  }
  return image.subarray(0, imageLength);
}

/** Bytes a disk writes atomically: a power loss keeps each such aligned piece of a write or not. */
const SECTOR_BYTES = 512;

/**
 * 'sectors': every unsynced write keeps a random subset of its 512-byte-aligned sectors, in no
 * order (a disk writing a request's sectors in parallel); the file's length reaches the furthest
 * kept sector, anything not kept reading as before (zeros past the old end). Truncates survive
 * or vanish whole, in call order.
 */
function sectorImage(file: SimFile, random: Random): Uint8Array {
  const image = new Uint8Array(imageCapacity(file));
  image.set(durableBytes(file));
  let imageLength = file.durableLength;
  for (const change of file.changes) {
    if (change.kind === 'truncate') {
      if (randomBool(random)) imageLength = applyTruncate(image, imageLength, change.sizeBytes);
      continue;
    }
    const bytes = bytesOfWrite(file, change);
    const end = change.position + bytes.length;
    for (let sector = Math.floor(change.position / SECTOR_BYTES) * SECTOR_BYTES; sector < end; sector += SECTOR_BYTES) {
      if (!randomBool(random)) continue;
      const from = Math.max(sector, change.position);
      const to = Math.min(sector + SECTOR_BYTES, end);
      imageLength = applyWrite(image, imageLength, from, bytes.subarray(from - change.position, to - change.position));
    }
  }
  return image.subarray(0, imageLength);
}

/** Room for every length the file had since its last sync. */
function imageCapacity(file: SimFile): number {
  let capacity = Math.max(file.durableLength, file.length);
  for (const change of file.changes) {
    capacity = Math.max(capacity, change.kind === 'write' ? change.position + change.length : change.sizeBytes);
  }
  return capacity;
}

function applyWrite(image: Uint8Array, imageLength: number, position: number, bytes: Uint8Array): number {
  if (bytes.length === 0) return imageLength;
  image.set(bytes, position);
  return Math.max(imageLength, position + bytes.length);
}

function applyTruncate(image: Uint8Array, imageLength: number, sizeBytes: number): number {
  if (sizeBytes < imageLength) image.fill(0, sizeBytes, imageLength);
  return sizeBytes;
}

function keepsUnsynced(tear: TearMode, random: Random): boolean {
  if (tear === 'none') return false;
  return tear === 'all' || randomBool(random);
}

function tornTailLength(tear: TearMode, random: Random, tailLength: number): number {
  if (tear === 'none' || tailLength === 0) return 0;
  return tear === 'all' ? tailLength : randomInt(random, tailLength + 1);
}

/** A surviving file: its crash image, now all durable. */
function survivingFile(file: SimFile, tear: TearMode, random: Random): SimFile {
  const image = crashImage(file, tear, random);
  // A torn image is shorter than its buffer; trim it so capacity tracks the file's real size.
  const data = image.byteLength === image.buffer.byteLength ? image : image.slice();
  return { kind: 'file', data, length: data.length, durable: null, durableLength: data.length, changes: [], lazyEndBytes: 0 };
}

/**
 * 'reorder': how many of its unsynced changes each directory keeps, drawn in path order, then
 * lowered until every rename between two directories is kept by both or by neither.
 */
function directoryCuts(root: SimDirectory, random: Random): Map<SimDirectory, number> {
  const cuts = new Map<SimDirectory, number>();
  const where = new Map<DirectoryChange, { directory: SimDirectory; index: number }>();
  const visit = (directory: SimDirectory): void => {
    cuts.set(directory, randomInt(random, directory.changes.length + 1));
    directory.changes.forEach((change, index) => where.set(change, { directory, index }));
    for (const name of [...directory.entries.keys()].sort()) {
      const child = directory.entries.get(name) as SimNode;
      if (child.kind === 'directory') visit(child);
    }
  };
  visit(root);
  for (let changed = true; changed; ) {
    changed = false;
    for (const [directory, cut] of cuts) {
      for (let index = 0; index < cut; index++) {
        const partner = directory.changes[index].partner;
        // A partner no longer pending was made durable by its own directory's sync.
        const other = partner === undefined ? undefined : where.get(partner);
        if (other === undefined || other.index < (cuts.get(other.directory) as number)) continue;
        cuts.set(directory, index);
        changed = true;
        break;
      }
    }
  }
  return cuts;
}

/** The entries a power loss leaves: the durable ones plus the kept prefix of the changes. */
function survivingEntries(directory: SimDirectory, cut: number): Map<string, SimNode> {
  if (cut === 0) return directory.durableEntries;
  const entries = new Map(directory.durableEntries);
  for (const change of directory.changes.slice(0, cut)) {
    for (const [name, node] of change.effects) {
      if (node === undefined) entries.delete(name);
      else entries.set(name, node);
    }
  }
  return entries;
}

interface CrashContext {
  readonly tear: TearMode;
  readonly random: Random;
  readonly cuts: Map<SimDirectory, number>;
  /** One survivor per file identity, for a file reachable under two names. */
  readonly survivors: Map<SimFile, SimFile>;
}

/** The surviving entries, in sorted order so the tear choices depend only on the seed. */
function copySurvivingTree(directory: SimDirectory, context: CrashContext): SimDirectory {
  const copy = newDirectory();
  const entries = survivingEntries(directory, context.cuts.get(directory) ?? 0);
  for (const name of [...entries.keys()].sort()) {
    const node = entries.get(name) as SimNode;
    let survivor: SimNode;
    if (node.kind === 'directory') {
      survivor = copySurvivingTree(node, context);
    } else {
      survivor = context.survivors.get(node) ?? survivingFile(node, context.tear, context.random);
      context.survivors.set(node, survivor);
    }
    copy.entries.set(name, survivor);
    copy.durableEntries.set(name, survivor);
  }
  return copy;
}

/** What a clone has copied so far: a node in both maps, or under two names, stays one node, and a
 * rename's two halves (in two directories) stay partners. */
interface CloneContext {
  readonly nodes: Map<SimNode, SimNode>;
  readonly changes: Map<DirectoryChange, DirectoryChange>;
}

/** Deep copy keeping identities (see CloneContext). */
function cloneNode(node: SimNode, context: CloneContext): SimNode {
  const existing = context.nodes.get(node);
  if (existing !== undefined) return existing;
  if (node.kind === 'file') {
    // Durable buffers are never mutated after creation, so they are shared; change records get
    // their bytes copied out later (keepUnsyncedBytes), so each copy has its own.
    const copy: SimFile = { ...node, data: node.data.slice(0, node.length), changes: node.changes.map((change) => ({ ...change })) };
    context.nodes.set(node, copy);
    return copy;
  }
  const copy = newDirectory();
  context.nodes.set(node, copy);
  for (const [name, child] of node.entries) copy.entries.set(name, cloneNode(child, context));
  for (const [name, child] of node.durableEntries) copy.durableEntries.set(name, cloneNode(child, context));
  copy.changes = node.changes.map((change) => cloneDirectoryChange(change, context));
  return copy;
}

function cloneDirectoryChange(change: DirectoryChange, context: CloneContext): DirectoryChange {
  const existing = context.changes.get(change);
  if (existing !== undefined) return existing;
  const effects = change.effects.map(([name, node]) => [name, node === undefined ? undefined : cloneNode(node, context)] as const);
  const copy: DirectoryChange = { effects, partner: undefined };
  context.changes.set(change, copy);
  if (change.partner !== undefined) copy.partner = cloneDirectoryChange(change.partner, context);
  return copy;
}

function collectFiles(directory: SimDirectory, prefix: string, files: Map<string, Uint8Array>): void {
  for (const name of [...directory.entries.keys()].sort()) {
    const node = directory.entries.get(name) as SimNode;
    const path = `${prefix}/${name}`;
    if (node.kind === 'directory') collectFiles(node, path, files);
    else files.set(path, node.data.slice(0, node.length));
  }
}

function splitPath(path: string): string[] {
  return posix
    .resolve('/', path)
    .split('/')
    .filter((part) => part.length > 0);
}

const ERROR_DESCRIPTIONS: Record<string, string> = {
  EBADF: 'bad file descriptor',
  ECRASHED: 'simulated power loss, the storage is down',
  EEXIST: 'file already exists',
  EIO: 'i/o error (injected)',
  EISDIR: 'illegal operation on a directory',
  ENOENT: 'no such file or directory',
  ENOSPC: 'no space left on device (injected)',
  ENOTDIR: 'not a directory',
};

/** Shaped like Node's errors (code, syscall, path), so callers handle both storages alike. */
function storageError(code: string, syscall: string, path: string): StorageError {
  const description = ERROR_DESCRIPTIONS[code] ?? code;
  const error = new Error(`${code}: ${description}, ${syscall} '${path}'`) as StorageError & {
    syscall: string;
    path: string;
  };
  error.code = code;
  error.syscall = syscall;
  error.path = path;
  return error;
}
