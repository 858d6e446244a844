/**
 * Opening a directory whose stored schema differs from the application's components: deciding
 * what to do (open as is, migrate, or refuse with SCHEMA_MISMATCH), running the declared
 * migrations, and the WAL replay across earlier schema changes.
 *
 * Semantics of `schemaVersion` (an open() option, default 1):
 * - The directory records the version and the schema of every epoch of its life (meta-file.ts).
 * - A lower version than the stored one is refused (SCHEMA_MISMATCH): the data may depend on a
 *   migration this application does not know about.
 * - Changes that have a safe conversion (schema/evolution.ts) happen at any version, bumped or
 *   not; the new version is recorded.
 * - Anything else needs a migration: `migrations[v]` for some v with stored < v <= schemaVersion.
 *   Every such function runs, in ascending v, in one migration transaction: `old` reads the
 *   world as stored (by the stored names), `tx` writes the new world, which already holds
 *   everything the safe conversions carried over and what earlier steps wrote.
 *
 * The migration is logged as one WAL record (LSN L + 1, right after the recovered log's last
 * LSN L) in the new schema: what the migrations wrote (possibly nothing). The new schema epoch
 * starts at L + 1, so replay converts the world at L the same deterministic way and applies the
 * record, without running user code again. The epoch counts only once that record is in the
 * log; until then it is pending, and the next open either finishes it or (an application of the
 * old schema) drops it.
 */
import { EcsdbError } from '../errors.js';
import { describeStoredField, epochAt, sameSchema, schemaOf, type SchemaEpoch, type StoredComponent } from '../meta/meta-file.js';
import { componentsOf, describeConversion, convertWorld, planEvolution, unconvertibleFields, type ConversionReport } from '../schema/evolution.js';
import type { AnyComponentDef } from '../schema/component.js';
import type { Entity } from '../schema/types.js';
import { ByteWriter } from '../encoding/bytes.js';
import { fastSetOf } from '../txn/fast-set.js';
import { Journal } from '../txn/journal.js';
import { Transaction } from '../txn/transaction.js';
import { exists, queryEntities } from '../world/read.js';
import { readComponent } from '../world/table.js';
import { World } from '../world/world.js';
import { slotOf } from '../world/entity-id.js';

/**
 * The world as the directory stored it, read by the stored component and field names, for a
 * migration function. Entity ids are the same in the old and the new world.
 */
export interface OldWorld {
  /** The stored schema version the migration starts from. */
  readonly version: number;
  /** The stored components: names and fields (`name: type`), in stored order. */
  readonly schema: readonly { readonly name: string; readonly fields: readonly string[] }[];
  exists(entity: Entity): boolean;
  has(entity: Entity, component: string): boolean;
  /** The component's stored value by its stored field names, or undefined if the entity lacks it. */
  get(entity: Entity, component: string): Record<string, unknown> | undefined;
  /** Entities that have every named component (all live entities when none is named), ascending. */
  query(...components: string[]): Entity[];
}

/**
 * A migration step: reads `old`, writes the new world through `tx` (the normal transaction API,
 * with the application's current component definitions). Synchronous, like a transaction.
 */
export type Migration = (old: OldWorld, tx: Transaction) => void;

/** What a migrating open did, in `db.recovery.schemaMigration`. */
export interface SchemaMigrationReport extends ConversionReport {
  readonly fromVersion: number;
  readonly toVersion: number;
  /** The versions whose migration functions ran, ascending. */
  readonly migrationsRun: readonly number[];
  /** The LSN of the migration record: the first LSN of the new schema. */
  readonly lsn: number;
}

/** Checks the `schemaVersion` and `migrations` options; returns the version (default 1). */
export function checkEvolutionOptions(schemaVersion: unknown, migrations: unknown): number {
  const version = schemaVersion ?? 1;
  if (typeof version !== 'number' || !Number.isSafeInteger(version) || version < 1) {
    throw new EcsdbError('INVALID_ARGUMENT', `open(): \`schemaVersion\` must be an integer >= 1, got ${JSON.stringify(schemaVersion)}`);
  }
  if (migrations === undefined) return version;
  if (migrations === null || typeof migrations !== 'object' || Array.isArray(migrations)) {
    throw new EcsdbError('INVALID_ARGUMENT', 'open(): `migrations` must be an object of functions keyed by schema version, e.g. { 2: (old, tx) => { ... } }');
  }
  for (const [key, fn] of Object.entries(migrations)) {
    const target = Number(key);
    if (!Number.isSafeInteger(target) || String(target) !== key || target < 2 || target > version) {
      throw new EcsdbError('INVALID_ARGUMENT', `open(): migrations[${JSON.stringify(key)}]: keys are the schema versions 2..${version} (schemaVersion) they migrate to`);
    }
    if (typeof fn !== 'function') throw new EcsdbError('INVALID_ARGUMENT', `open(): migrations[${key}] must be a function (old, tx) => void`);
  }
  return version;
}

/** Components to build a world of `schema` with: the application's when they match it. */
export function componentsFor(schema: readonly StoredComponent[], given: readonly AnyComponentDef[]): readonly AnyComponentDef[] {
  return sameSchema(schema, schemaOf(given)) ? given : componentsOf(schema);
}

/** A world conversion at each later epoch's first LSN, for replay from a world of `epoch`. */
export function schemaChangesAfter(history: readonly SchemaEpoch[], epoch: SchemaEpoch, given: readonly AnyComponentDef[]) {
  const start = history.indexOf(epoch);
  return history.slice(start + 1).map((next, i) => {
    const previous = history[start + i];
    const plan = planEvolution(previous.schema, next.schema);
    return { fromLsn: next.fromLsn, convert: (world: World) => convertWorld(world, plan, componentsFor(next.schema, given)) };
  });
}

export type OpenDecision =
  | { readonly kind: 'open' }
  /** An interrupted migration's epoch is dropped: the application has the schema before it. */
  | { readonly kind: 'drop-pending'; readonly history: readonly SchemaEpoch[] }
  | { readonly kind: 'migrate'; readonly from: SchemaEpoch; readonly kept: readonly SchemaEpoch[]; readonly steps: readonly number[] };

/**
 * What to do with a directory whose log ends at `lastLsn`, opened with `given` at `version`.
 * Throws SCHEMA_MISMATCH (before anything on disk changed) when the change is not allowed.
 */
export function decideOpen(
  history: readonly SchemaEpoch[],
  lastLsn: number,
  given: readonly AnyComponentDef[],
  version: number,
  migrations: Readonly<Record<number, Migration>> | undefined,
): OpenDecision {
  const kept = history.filter((epoch, i) => i === 0 || epoch.fromLsn <= lastLsn);
  const from = epochAt(kept, lastLsn);
  const givenSchema = schemaOf(given);
  if (version < from.version) {
    throw new EcsdbError(
      'SCHEMA_MISMATCH',
      `the directory holds schema version ${from.version}, newer than this application's schemaVersion ${version}; open it with the application version that wrote it (or a newer one)`,
      { detail: 'downgrade' },
    );
  }
  const steps = Object.keys(migrations ?? {})
    .map(Number)
    .filter((v) => v > from.version && v <= version)
    .sort((a, b) => a - b);
  if (version === from.version && sameSchema(from.schema, givenSchema)) {
    return kept.length === history.length ? { kind: 'open' } : { kind: 'drop-pending', history: kept };
  }
  const plan = planEvolution(from.schema, givenSchema);
  const unsafe = unconvertibleFields(plan, givenSchema);
  if (unsafe.length > 0 && steps.length === 0) {
    const first = unsafe[0];
    const all = unsafe.map((u) => `${u.component}.${u.field}: ${u.from} → ${u.to}`).join('; ');
    const how =
      version === from.version
        ? `raise schemaVersion above ${from.version} and declare migrations[${from.version + 1}]`
        : `declare a migration for one of the versions ${from.version + 1}..${version} in open({ migrations })`;
    throw new EcsdbError(
      'SCHEMA_MISMATCH',
      `component ${first.component}, field ${first.field} changed from ${first.from} to ${first.to}, which has no safe conversion (${all}); ${how} that writes it from the old world; nothing on disk was changed`,
      { detail: 'needs-migration' },
    );
  }
  return { kind: 'migrate', from, kept, steps };
}

export interface MigratedWorld {
  readonly world: World;
  /** The migration record's payload: an encoded write set in the new schema. */
  readonly payload: Uint8Array;
  readonly report: Omit<SchemaMigrationReport, 'lsn'>;
}

/**
 * Converts `oldWorld` (of epoch `from`) to `given` and runs the migration steps in one
 * transaction. Touches nothing on disk; a step that throws fails the open with MIGRATION_FAILED.
 */
export function migrateWorld(
  oldWorld: World,
  from: SchemaEpoch,
  given: readonly AnyComponentDef[],
  version: number,
  steps: readonly number[],
  migrations: Readonly<Record<number, Migration>> | undefined,
): MigratedWorld {
  const plan = planEvolution(from.schema, schemaOf(given));
  const world = convertWorld(oldWorld, plan, given);
  const conversion = describeConversion(plan, oldWorld, given);
  const journal = new Journal(world);
  const tx = new Transaction(world, journal, world.tables.map(fastSetOf));
  const old = oldWorldReader(oldWorld, from.version);
  journal.begin();
  for (const step of steps) {
    try {
      const result: unknown = migrations![step](old, tx);
      if (result !== null && typeof result === 'object' && typeof (result as PromiseLike<unknown>).then === 'function') {
        Promise.resolve(result).catch(() => undefined);
        throw new EcsdbError('ASYNC_TRANSACTION', 'it returned a promise; migrations must be synchronous');
      }
    } catch (error) {
      tx.close();
      throw new EcsdbError(
        'MIGRATION_FAILED',
        `the migration to schema version ${step} failed: ${(error as Error)?.message ?? String(error)}; nothing on disk was changed`,
        { cause: error },
      );
    }
  }
  tx.close();
  const writer = new ByteWriter(64);
  journal.encodeWriteSetInto(writer, world.tables.map((table) => table.fields));
  journal.end();
  const report = { fromVersion: from.version, toVersion: version, migrationsRun: steps, ...conversion };
  return { world, payload: writer.toBytes(), report };
}

function oldWorldReader(world: World, version: number): OldWorld {
  const table = (name: string) => {
    const found = typeof name === 'string' ? world.tableNamed(name) : undefined;
    if (found === undefined) {
      throw new EcsdbError('UNKNOWN_COMPONENT', `the old world (schema version ${version}) has no component ${String(name)}; it has ${world.tables.map((t) => t.def.name).join(', ') || 'none'}`);
    }
    return found;
  };
  const liveSlot = (entity: Entity) => {
    if (!exists(world, entity)) throw new EcsdbError('NO_SUCH_ENTITY', world.registry.describeDeadId(entity));
    return slotOf(entity);
  };
  return Object.freeze({
    version,
    schema: schemaOf(world.tables.map((t) => t.def)).map((c) => ({ name: c.name, fields: c.fields.map(describeStoredField) })),
    exists: (entity: Entity) => exists(world, entity),
    has: (entity: Entity, component: string) => {
      const found = table(component);
      const slot = liveSlot(entity);
      return slot < found.capacity && found.present[slot] === 1;
    },
    get: (entity: Entity, component: string) => {
      const found = table(component);
      const slot = liveSlot(entity);
      return slot < found.capacity && found.present[slot] === 1 ? readComponent(found, slot) : undefined;
    },
    query: (...components: string[]) => queryEntities(world, components.map((name) => table(name).def)),
  });
}
