/**
 * The fast path of `tx.set` for tables whose fields are all numeric scalars (numbers, bools,
 * entity references: Position, Velocity, Health...): one generated function per table that reads
 * the given values once, checks them, makes the journal's first-touch record and writes them,
 * with the field names and indices as constants and no call in between.
 *
 * The separate steps (`FieldAccess.check`, `Journal.touchCell`, `FieldAccess.writeGiven`) took
 * ~75 ns per `set` on the development machine, calls included; with this function a `set` takes
 * ~57 ns (a W2 tick of 10,000 `set` calls in memory mode: 0.73-0.83 ms before, 0.57-0.62 ms
 * after; docs/performance.md). The gain is the calls and generic loops it saves, which V8 did
 * not inline.
 *
 * It accepts only what the separate steps accept, and makes the same records: on anything
 * unusual (a value of the wrong type or out of range, an unknown key, a key set to undefined
 * counted among the keys) it changes nothing and returns false, and `set` takes the separate
 * steps, whose check throws the precise error. Unlike them it reads each given value once (a
 * getter runs once, and what is checked is what is written).
 *
 * Field names are validated identifiers-or-punctuation (schema/component.ts) and are embedded as
 * JSON string literals, so generated code cannot be injected through a name.
 */
import type { ComponentTable } from '../world/table.js';
import { invalidValueSource, storedValueSource, type IsAliveEntity } from '../world/field-access.js';
import { Journal } from './journal.js';

/** Sets the given fields of `slot`, which has the component; false (and nothing done) when the input needs the careful path. */
export type FastSet = (slot: number, values: object, journal: Journal, isAlive: IsAliveEntity) => boolean;

/**
 * The table's fast `set`, or undefined when its fields are not all numeric scalars (or it has
 * none). Compiled once per table when the database opens (src/db/database.ts).
 */
export function fastSetOf(table: ComponentTable): FastSet | undefined {
  const fields = table.fields;
  if (fields.length === 0 || !fields.every((field) => field.storage !== undefined && field.stride === 1)) return undefined;
  const reads = fields.map((field, i) => `const v${i} = values[${JSON.stringify(field.name)}];`);
  const checks = fields.map(
    (field, i) => `if (v${i} !== undefined) { given++; if (${invalidValueSource(field.type.kind, i, `v${i}`)}) return false; mask |= ${1 << i}; }`,
  );
  const writes = fields.map((field, i) => `if (v${i} !== undefined) columns[${i}][slot] = ${storedValueSource(field.type.kind, `v${i}`)};`);
  const source = [
    'return function fastSet(slot, values, journal, isAlive) {',
    'if (values === null || typeof values !== "object" || Array.isArray(values)) return false;',
    ...reads,
    'let mask = 0, given = 0;',
    ...checks,
    // Every own or inherited enumerable key must be a field that was given (as the check's).
    'let keys = 0; for (const key in values) keys++;',
    'if (keys !== given) return false;',
    // Read after the values: a getter may have grown the table (new column arrays).
    'const columns = table.columnList;',
    Journal.scalarFirstTouchSource(fields.length),
    ...writes,
    'return true;',
    '};',
  ].join('\n');
  const make = new Function('table', source) as (table: ComponentTable) => FastSet;
  return make(table);
}
