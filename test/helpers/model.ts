/**
 * A plain in-memory model of an ecsdb world, written from the contract and not from the
 * implementation: Maps and arrays, no typed columns, no journal, no bitecs. Differential tests run
 * the same operations against it and against the database and compare every read.
 *
 * It decides each operation's expected outcome, including the error code, in the order the
 * contract checks: unknown component, then dead entity, then component present or missing, then
 * each given field in the order given (unknown field, then a value that does not fit). An
 * operation that fails changes nothing.
 *
 * Allocation follows the documented policy: the lowest free slot at its next generation, else a
 * fresh slot at generation 0.
 */
import type { AnyComponentDef } from '../../src/schema/component.js';
import type { ErrorCode } from '../../src/index.js';
import type { FieldType, NumericKind } from '../../src/schema/types.js';
import type { WorldDump } from './world-dump.js';

const SLOT_COUNT = 2 ** 24;

export class ModelError extends Error {
  constructor(readonly code: ErrorCode) {
    super(code);
  }
}

type Value = Record<string, unknown>;

interface State {
  generations: number[];
  alive: boolean[];
  /** slot → component name → value */
  components: Map<number, Map<string, Value>>;
}

const INTEGER_LIMITS: Partial<Record<NumericKind, [number, number]>> = {
  i8: [-(2 ** 7), 2 ** 7 - 1],
  u8: [0, 2 ** 8 - 1],
  i16: [-(2 ** 15), 2 ** 15 - 1],
  u16: [0, 2 ** 16 - 1],
  i32: [-(2 ** 31), 2 ** 31 - 1],
  u32: [0, 2 ** 32 - 1],
};

function numberFits(kind: NumericKind, value: unknown): boolean {
  if (typeof value !== 'number') return false;
  const limits = INTEGER_LIMITS[kind];
  if (limits !== undefined) return Number.isInteger(value) && value >= limits[0] && value <= limits[1];
  // f32: a finite number must stay finite in single precision.
  return kind === 'f64' || !Number.isFinite(value) || Number.isFinite(Math.fround(value));
}

function storedNumber(kind: NumericKind, value: number): number {
  if (INTEGER_LIMITS[kind] !== undefined) return value === 0 ? 0 : value; // integer columns have no -0
  return kind === 'f32' ? Math.fround(value) : value;
}

export class Model {
  private constructor(
    readonly defs: readonly AnyComponentDef[],
    private state: State,
  ) {}

  static empty(defs: readonly AnyComponentDef[]): Model {
    return new Model(defs, { generations: [], alive: [], components: new Map() });
  }

  clone(): Model {
    return new Model(this.defs, structuredClone(this.state));
  }

  isAlive(id: unknown): boolean {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0) return false;
    const slot = id % SLOT_COUNT;
    return this.state.alive[slot] === true && this.state.generations[slot] === Math.floor(id / SLOT_COUNT);
  }

  /** The id the next create() returns. */
  nextId(): number {
    const { alive, generations } = this.state;
    const free = alive.indexOf(false);
    return free === -1 ? alive.length : generations[free] * SLOT_COUNT + free;
  }

  liveIds(): number[] {
    const ids: number[] = [];
    this.state.alive.forEach((isAlive, slot) => {
      if (isAlive) ids.push(this.state.generations[slot] * SLOT_COUNT + slot);
    });
    return ids;
  }

  create(): number {
    const id = this.nextId();
    const slot = id % SLOT_COUNT;
    this.state.generations[slot] = Math.floor(id / SLOT_COUNT);
    this.state.alive[slot] = true;
    this.state.components.set(slot, new Map());
    return id;
  }

  destroy(id: unknown): void {
    const slot = this.liveSlot(id);
    this.state.alive[slot] = false;
    this.state.generations[slot]++;
    this.state.components.delete(slot);
  }

  add(id: unknown, def: AnyComponentDef, values: unknown): void {
    this.requireDef(def);
    const components = this.componentsOf(id);
    if (components.has(def.name)) throw new ModelError('COMPONENT_EXISTS');
    const given = this.checkValues(def, values ?? {});
    const value: Value = {};
    for (const name of def.fieldNames) value[name] = given.has(name) ? given.get(name) : defaultOf(def.fields[name]);
    components.set(def.name, value);
  }

  set(id: unknown, def: AnyComponentDef, values: unknown): void {
    this.requireDef(def);
    const value = this.componentsOf(id).get(def.name);
    if (value === undefined) throw new ModelError('COMPONENT_MISSING');
    for (const [name, fieldValue] of this.checkValues(def, values)) value[name] = fieldValue;
  }

  /** Returns whether anything changed (removing an absent component is a no-op). */
  remove(id: unknown, def: AnyComponentDef): boolean {
    this.requireDef(def);
    return this.componentsOf(id).delete(def.name);
  }

  get(id: unknown, def: AnyComponentDef): Value | undefined {
    this.requireDef(def);
    const value = this.componentsOf(id).get(def.name);
    return value === undefined ? undefined : structuredClone(value);
  }

  has(id: unknown, def: AnyComponentDef): boolean {
    this.requireDef(def);
    return this.componentsOf(id).has(def.name);
  }

  query(defs: readonly AnyComponentDef[]): number[] {
    defs.forEach((def) => this.requireDef(def));
    return this.liveIds().filter((id) => defs.every((def) => this.state.components.get(id % SLOT_COUNT)!.has(def.name)));
  }

  /** The world as dumpWorld() pictures it. */
  dump(): WorldDump {
    const { generations, alive, components } = this.state;
    const entities = this.liveIds().map((id) => {
      const slot = id % SLOT_COUNT;
      return { id, slot, generation: generations[slot], components: Object.fromEntries(structuredClone(components.get(slot)!)) };
    });
    const tables: WorldDump['tables'] = {};
    for (const def of this.defs) {
      const rows = entities.filter((entity) => def.name in entity.components).map((entity) => entity.slot);
      tables[def.name] = { count: rows.length, rows };
    }
    return {
      registry: { highWater: alive.length, generations: [...generations], alive: alive.map((isAlive) => (isAlive ? 1 : 0)) },
      entities,
      tables,
    };
  }

  private requireDef(def: AnyComponentDef): void {
    if (!this.defs.includes(def)) throw new ModelError('UNKNOWN_COMPONENT');
  }

  private liveSlot(id: unknown): number {
    if (!this.isAlive(id)) throw new ModelError('NO_SUCH_ENTITY');
    return (id as number) % SLOT_COUNT;
  }

  private componentsOf(id: unknown): Map<string, Value> {
    return this.state.components.get(this.liveSlot(id))!;
  }

  /** The given fields as they will be stored, in the order given; throws for the first bad one. */
  private checkValues(def: AnyComponentDef, values: unknown): Map<string, unknown> {
    if (values === null || typeof values !== 'object' || Array.isArray(values)) throw new ModelError('INVALID_VALUE');
    const given = new Map<string, unknown>();
    for (const [name, value] of Object.entries(values)) {
      if (!def.fieldNames.includes(name)) throw new ModelError('UNKNOWN_FIELD');
      if (value === undefined) continue;
      const type = def.fields[name];
      if (!this.fits(type, value)) throw new ModelError('INVALID_VALUE');
      given.set(name, stored(type, value));
    }
    return given;
  }

  private fits(type: FieldType, value: unknown): boolean {
    switch (type.kind) {
      case 'bool':
        return typeof value === 'boolean';
      case 'string':
        return typeof value === 'string' && (value as string & { isWellFormed(): boolean }).isWellFormed();
      case 'entity':
        return value === null || this.isAlive(value);
      case 'array': {
        if (value === null || typeof value !== 'object' || !('length' in value)) return false;
        const elements = Array.from(value as ArrayLike<unknown>);
        return elements.length === type.length && elements.every((element) => numberFits(type.element, element));
      }
      default:
        return numberFits(type.kind, value);
    }
  }
}

function stored(type: FieldType, value: unknown): unknown {
  switch (type.kind) {
    case 'bool':
    case 'string':
    case 'entity':
      return value;
    case 'array':
      return Array.from(value as ArrayLike<number>, (element) => storedNumber(type.element, element));
    default:
      return storedNumber(type.kind, value as number);
  }
}

function defaultOf(type: FieldType): unknown {
  switch (type.kind) {
    case 'bool':
      return false;
    case 'string':
      return '';
    case 'entity':
      return null;
    case 'array':
      return new Array<number>(type.length).fill(0);
    default:
      return 0;
  }
}
