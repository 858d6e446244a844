/**
 * The database: a world, the one transaction that may run at a time, and the commit sequence.
 *
 * In `memory` mode nothing is logged. With a WAL, a commit builds its write set from the
 * journal, appends it to the WAL writer's batch (encoding only: no I/O on this thread) and gets
 * back the batch's `durable` promise; the world change is visible as soon as `transact` returns.
 */
import { EcsdbError } from '../errors.js';
import type { AnyComponentDef, ComponentDef, ComponentValue, FieldsSpec } from '../schema/component.js';
import type { Entity } from '../schema/types.js';
import { fastSetOf, type FastSet } from '../txn/fast-set.js';
import { Journal } from '../txn/journal.js';
import type { WriteSetSchema } from '../txn/write-set.js';
import type { WalWriter } from '../wal/wal-writer.js';
import { Transaction } from '../txn/transaction.js';
import { entityIdOf } from '../world/entity-id.js';
import { exists, getComponent, hasComponent, queryEntities, requireTable } from '../world/read.js';
import type { Column } from '../world/table.js';
import { World } from '../world/world.js';
import { stateHash, type StateHashOptions } from '../world/state-hash.js';
import { openAt, type OpenAtInternalOptions } from '../history/open-at.js';
import type { HistoricalView } from '../history/view.js';
import { keySourceOf } from '../crypto/key-config.js';
import { fileStorage, openPersistent, type PersistentParts } from './open-persistent.js';
import { checkEvolutionOptions } from '../recovery/migrate.js';
import type { RecoveryReport } from '../recovery/recover.js';
import type { SnapshotEntry } from '../snapshot/manifest.js';
import { checkDurability, checkOpenOptionKeys, type Durability, type OpenOptions } from './options.js';
import {
  archiveSettings,
  changedIn,
  checkRuntimeChange,
  configReport,
  resolveConfig,
  snapshotSettings,
  storageSettings,
  walSettings,
  withChange,
  type ResolvedArchiveOptions,
  type ResolvedConfig,
  type ResolvedSnapshotOptions,
  type ResolvedWalOptions,
} from '../config/resolve.js';
import type { ConfigChange, ConfigReport } from '../config/types.js';
import { configError } from '../config/values.js';

export type { Durability, OpenOptions };

export interface TransactOptions {
  durability?: Durability;
}

export interface Commit<T> {
  /** What the callback returned. */
  readonly value: T;
  /**
   * The commit's log sequence number. Commits that change something get increasing LSNs; a
   * transaction that changed nothing gets the LSN of the last commit (its reads' state).
   */
  readonly lsn: number;
  /** Resolves once the commit is durable under its mode (at once in memory mode). */
  readonly durable: Promise<void>;
}

/** Typed-array (and string-array) columns of one component, indexed by row (entity slot). */
export type ColumnsOf<S extends FieldsSpec> = { readonly [K in keyof S]: Column };

/** A published snapshot, with how its capture went. */
export interface SnapshotResult extends SnapshotEntry {
  /** The longest synchronous step of the capture on the main thread (copying one chunk). */
  readonly longestStepMs: number;
  /** How many chunks the capture took. */
  readonly chunkCount: number;
}

const RESOLVED: Promise<void> = Promise.resolve();

export class Database {
  readonly #world: World;
  readonly #journal: Journal;
  readonly #fastSets: readonly (FastSet | undefined)[];
  #transaction: Transaction | undefined;
  #lsn = 0;
  #closed = false;
  readonly #durability: Durability;
  readonly #persistent: PersistentParts | undefined;
  readonly #schema: WriteSetSchema;
  #config: ResolvedConfig;
  readonly #cwd: string;

  /** @internal Use `open()`. */
  constructor(world: World, durability: Durability, persistent: PersistentParts | undefined, config: ResolvedConfig, cwd: string) {
    this.#world = world;
    this.#config = config;
    this.#cwd = cwd;
    this.#journal = new Journal(world);
    this.#fastSets = world.tables.map(fastSetOf);
    this.#durability = durability;
    this.#persistent = persistent;
    this.#schema = world.tables.map((table) => table.fields);
    this.#lsn = persistent?.wal.lastLsn ?? 0;
  }

  /** What `open()` found and did: undefined in memory mode. */
  get recovery(): RecoveryReport | undefined {
    return this.#persistent?.recovery;
  }

  /** Default durability of this database's commits. */
  get durability(): Durability {
    return this.#durability;
  }

  /** Every commit up to this LSN is fsynced (equals `lsn` in memory mode). */
  get durableLsn(): number {
    return this.#persistent?.wal.durableLsn ?? this.#lsn;
  }

  /** The LSN of the last commit that changed something (0 for an empty database). */
  get lsn(): number {
    return this.#lsn;
  }

  /** Number of live entities. */
  get entityCount(): number {
    return this.#world.registry.liveCount;
  }

  /**
   * Runs `fn` as one atomic transaction. The callback runs synchronously; if it throws, nothing
   * changes and the error propagates; if it returns a promise, nothing changes and the call
   * fails with ASYNC_TRANSACTION. The commit is visible to readers as soon as this returns.
   */
  transact<T>(fn: (tx: Transaction) => T, options?: TransactOptions): Commit<T> {
    this.#requireOpen();
    if (this.#transaction !== undefined) {
      throw new EcsdbError('NESTED_TRANSACTION', 'transact() was called inside a transaction callback; do all the work in one callback');
    }
    if (typeof fn !== 'function') {
      throw new EcsdbError('INVALID_ARGUMENT', `transact() needs a callback function, got ${typeof fn}`);
    }
    const strict = this.#resolveStrict(options);
    const wal = this.#persistent?.wal;
    wal?.checkWritable();
    const journal = this.#journal;
    const tx = new Transaction(this.#world, journal, this.#fastSets);
    this.#transaction = tx;
    journal.begin();
    let value: T;
    try {
      value = fn(tx);
      if (isThenable(value)) {
        // Keep a later rejection of the abandoned promise from crashing the process.
        Promise.resolve(value).catch(() => undefined);
        throw new EcsdbError(
          'ASYNC_TRANSACTION',
          'a transaction callback returned a promise; callbacks must be synchronous (do async work before or after transact)',
        );
      }
    } catch (error) {
      tx.close();
      journal.rollback();
      journal.end();
      this.#transaction = undefined;
      throw error;
    }
    tx.close();
    let durable = RESOLVED;
    try {
      const changed = !journal.isEmpty && journal.hasNetChange();
      if (changed && wal === undefined) {
        this.#lsn++;
      } else if (changed && wal !== undefined) {
        const appended = wal.append((writer) => journal.encodeWriteSetInto(writer, this.#schema), strict);
        this.#lsn = appended.lsn;
        durable = appended.durable;
        this.#persistent!.snapshotter.noteCommit();
      } else if (wal !== undefined) {
        durable = wal.whenDurable(this.#lsn, strict);
      }
    } catch (error) {
      journal.rollback();
      throw error;
    } finally {
      journal.end();
      this.#transaction = undefined;
    }
    return { value, lsn: this.#lsn, durable };
  }

  /**
   * Takes a snapshot in the background (commits go on meanwhile) and resolves once it is
   * durable and published; a request while one runs joins it. Then archives the WAL it covers.
   */
  async snapshot(): Promise<SnapshotResult> {
    this.#requireOpen();
    const persistent = this.#persistent;
    if (persistent === undefined) throw new EcsdbError('CONFIG_INVALID', 'a memory database has no directory to snapshot into');
    const stats = await persistent.snapshotter.snapshot();
    return { ...stats.entry, longestStepMs: stats.longestStepMs, chunkCount: stats.chunkCount };
  }

  /** The published snapshots, oldest first (empty in memory mode). */
  get snapshots(): readonly SnapshotEntry[] {
    return this.#persistent?.snapshotter.snapshots ?? [];
  }

  /**
   * The effective settings and where each came from: `{ file, storage: { dir, durability },
   * wal: {...}, snapshot: {...}, archive: {...} }`, each setting `{ value, source }` with source
   * 'default', 'file <path>', 'env <VARIABLE>', 'open()' or 'configure()'. A fresh object.
   */
  config(): ConfigReport {
    this.#requireOpen();
    return configReport(this.#config);
  }

  /**
   * Changes run-time settings (every `wal`, `snapshot` and `archive` setting) on the open
   * database; they take effect at once, without a restart (see docs/configuration.md). The whole
   * change is checked first and applied only if all of it is valid: unknown keys, bad values and
   * settings that cannot change at run time (`dir`, `durability`) fail with CONFIG_INVALID.
   */
  configure(change: ConfigChange): void {
    this.#requireOpen();
    const layer = checkRuntimeChange(change, this.#cwd);
    if (layer.size === 0) return;
    const persistent = this.#persistent;
    if (persistent === undefined) {
      throw configError('not-runtime', 'a memory database has no WAL, snapshots or archive; its settings cannot change (open it with a dir)');
    }
    // Each part reads its settings at the moment it uses them: the WAL writer at each append
    // and flush, the snapshotter at each commit, tick and run, archival at each snapshot.
    const wal = changedIn<ResolvedWalOptions>(layer, 'wal');
    const policy = changedIn<ResolvedSnapshotOptions>(layer, 'snapshot');
    if (Object.keys(wal).length > 0) persistent.wal.setLimits(wal);
    // setPolicy restarts the every-ms timer, so only a policy change calls it.
    if (Object.keys(policy).length > 0) persistent.snapshotter.setPolicy(policy);
    Object.assign(persistent.archive, changedIn<ResolvedArchiveOptions>(layer, 'archive'));
    this.#config = withChange(this.#config, layer);
  }

  /** Makes every commit so far durable; resolves when it is. */
  async flush(): Promise<void> {
    this.#requireOpen();
    await this.#persistent?.wal.flush();
  }

  #resolveStrict(options: TransactOptions | undefined): boolean {
    const requested = options?.durability;
    if (requested === undefined) return this.#durability === 'strict';
    const durability = checkDurability(requested, 'transact() option durability');
    if (this.#persistent === undefined && durability !== 'memory') {
      throw new EcsdbError('CONFIG_INVALID', `this database was opened in memory mode and has no WAL; durability '${durability}' is not available`);
    }
    if (this.#persistent !== undefined && durability === 'memory') {
      throw new EcsdbError('CONFIG_INVALID', "a database with a WAL logs every commit; per-transaction durability may be 'buffered' or 'strict'");
    }
    return durability === 'strict';
  }

  get<S extends FieldsSpec>(entity: Entity, component: ComponentDef<S>): ComponentValue<S> | undefined {
    this.#requireOpen();
    return getComponent(this.#world, entity, component);
  }

  has(entity: Entity, component: AnyComponentDef): boolean {
    this.#requireOpen();
    return hasComponent(this.#world, entity, component);
  }

  exists(entity: Entity): boolean {
    this.#requireOpen();
    return exists(this.#world, entity);
  }

  /** The entities that have every listed component, in ascending slot order. */
  query(...components: AnyComponentDef[]): Entity[] {
    this.#requireOpen();
    return queryEntities(this.#world, components);
  }

  /**
   * Zero-copy read path for hot loops: the live rows (slots) that have every listed component.
   * The array is owned by ecsdb: do not modify it, and do not keep it across a commit.
   */
  queryRows(...components: AnyComponentDef[]): readonly number[] {
    this.#requireOpen();
    if (components.length === 0) throw new EcsdbError('INVALID_ARGUMENT', 'queryRows() needs at least one component');
    return this.#world.querySlots(components.map((def) => requireTable(this.#world, def)));
  }

  /**
   * Zero-copy read path: the component's columns, indexed by row. Numeric fields are typed
   * arrays (array fields inline, `length` values per row), bools 0/1 in a Uint8Array, entity
   * references ids in a Float64Array (-1 for null), strings a plain array. Read only: writes
   * must go through transactions to reach the log. Columns are replaced when they grow, so fetch
   * them again after any commit that created entities.
   */
  columns<S extends FieldsSpec>(component: ComponentDef<S>): ColumnsOf<S> {
    this.#requireOpen();
    return requireTable(this.#world, component).columns as ColumnsOf<S>;
  }

  /**
   * A canonical SHA-256 (64 hex digits) of the logical world: the schema, the live entity ids,
   * their components and values. Equal for equal worlds whatever their history (order of
   * changes, snapshots, replay); any value change changes it. `{ allocator: true }` also covers
   * the state that decides future ids. Synchronous; see docs/api.md for what is included.
   */
  stateHash(options?: StateHashOptions): string {
    this.#requireOpen();
    return stateHash(this.#world, options);
  }

  /**
   * A read-only view of the world after commit `lsn`, or after the last commit made at or
   * before `timeMs`, built from the retained snapshots and WAL (see `openAt`): the database is
   * not paused or changed. Commits that are not durable yet are flushed first, since the view
   * reads them from disk. OUT_OF_RETENTION for a point no longer retained or not committed yet.
   */
  async at(target: { lsn: number } | { timeMs: number }): Promise<HistoricalView> {
    this.#requireOpen();
    const persistent = this.#persistent;
    if (persistent === undefined) throw new EcsdbError('CONFIG_INVALID', 'a memory database keeps no history to travel back in; open it with a dir');
    if (target === null || typeof target !== 'object') throw new EcsdbError('INVALID_ARGUMENT', 'db.at() needs { lsn } or { timeMs }');
    const lsn = 'lsn' in target ? target.lsn : undefined;
    if (lsn === undefined || (typeof lsn === 'number' && lsn > persistent.wal.durableLsn)) await persistent.wal.flush();
    const components = this.#world.tables.map((table) => table.def);
    const keySource = keySourceOf(this.#config);
    return openAt({ dir: persistent.dir, storage: persistent.storage, components, ...target, ...(keySource === undefined ? {} : { keySource }) } as OpenAtInternalOptions);
  }

  /** The entity id of the live entity in `row` (as returned by queryRows). */
  entityAt(row: number): Entity {
    this.#requireOpen();
    const registry = this.#world.registry;
    if (!Number.isInteger(row) || row < 0 || row >= registry.highWater || registry.alive[row] !== 1) {
      throw new EcsdbError('NO_SUCH_ENTITY', `row ${row} holds no live entity`);
    }
    return entityIdOf(row, registry.generations[row]);
  }

  /**
   * Flushes and fsyncs every commit, releases the directory lock, and makes the database
   * unusable (every later call fails with DB_CLOSED). Idempotent. If the final flush fails, the
   * lock is still released and the IO_FAILED error is thrown.
   */
  async close(): Promise<void> {
    if (this.#transaction !== undefined) {
      throw new EcsdbError('INVALID_ARGUMENT', 'close() was called inside a transaction callback');
    }
    if (this.#closed) return;
    this.#closed = true;
    const persistent = this.#persistent;
    if (persistent === undefined) return;
    try {
      await persistent.snapshotter.close();
      await persistent.wal.close();
    } finally {
      await persistent.lock.release();
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  #requireOpen(): void {
    if (this.#closed) throw new EcsdbError('DB_CLOSED', 'the database is closed; open() it again to use it');
  }
}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    value !== null && (typeof value === 'object' || typeof value === 'function') && typeof (value as PromiseLike<unknown>).then === 'function'
  );
}

function checkComponentDef(def: unknown, position: number): void {
  const candidate = def as Partial<AnyComponentDef> | null;
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.name !== 'string' ||
    !Array.isArray(candidate.fieldNames) ||
    typeof candidate.fields !== 'object'
  ) {
    throw new EcsdbError('INVALID_ARGUMENT', `open(): components[${position}] is not a component definition; create it with defineComponent()`);
  }
}

/**
 * Opens a database. With a `dir`, takes the directory's lock, replays its WAL and continues it;
 * `db.recovery` reports what was found. Without one, the database lives in memory only.
 *
 * Settings come from defaults < `ecsdb.toml` < `ECSDB_*` environment variables < these options
 * (docs/configuration.md); `db.config()` tells which gave each.
 */
export async function open(options: OpenOptions): Promise<Database> {
  if (options === null || typeof options !== 'object') {
    throw new EcsdbError('INVALID_ARGUMENT', 'open() needs an options object: open({ components: [...] })');
  }
  checkOpenOptionKeys(options);
  if (!Array.isArray(options.components)) {
    throw new EcsdbError('INVALID_ARGUMENT', 'open(): `components` must be an array of component definitions');
  }
  options.components.forEach(checkComponentDef);
  checkEvolutionOptions(options.schemaVersion, options.migrations);
  if (options.cwd !== undefined && (typeof options.cwd !== 'string' || options.cwd === '')) {
    throw new EcsdbError('INVALID_ARGUMENT', `open(): \`cwd\` must be a directory path, got ${JSON.stringify(options.cwd)}`);
  }
  if (options.env !== undefined && (options.env === null || typeof options.env !== 'object')) {
    throw new EcsdbError('INVALID_ARGUMENT', 'open(): `env` must be an object of variables, like process.env');
  }
  const cwd = options.cwd ?? process.cwd();
  // The configuration file belongs to the process, like its environment, not to the data
  // directory: it is read from the real file system even when a test injects a storage.
  const config = await resolveConfig({ options, env: options.env ?? process.env, cwd, storage: fileStorage });
  const { dir, durability } = storageSettings(config);
  const keySource = keySourceOf(config); // a conflict between key sources fails before any file is touched
  if (durability === 'memory') return new Database(new World(options.components), durability, undefined, config, cwd);
  if (dir === undefined) {
    const source = config.entries.get('storage.durability')!.source;
    throw new EcsdbError(
      'CONFIG_INVALID',
      `durability '${durability}' (${source}) needs a data directory: open({ dir: 'data', ... }), [storage] dir in ecsdb.toml, or ECSDB_STORAGE_DIR`,
    );
  }
  new World(options.components); // fails fast on duplicate names, before touching the directory
  const settings = { dir, wal: walSettings(config), snapshot: snapshotSettings(config), archive: archiveSettings(config), keySource };
  const persistent = await openPersistent(options, settings);
  return new Database(persistent.world, durability, persistent, config, cwd);
}
