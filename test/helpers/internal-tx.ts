/**
 * Runs transactions on a bare World through the same internals the database uses (Journal and
 * Transaction), so tests can capture each commit's write set, which the public API keeps inside.
 * It follows Database#transact: a callback that throws or returns a promise is rolled back.
 */
import { EcsdbError } from '../../src/index.js';
import { ByteWriter } from '../../src/encoding/bytes.js';
import type { AnyComponentDef } from '../../src/schema/component.js';
import { fastSetOf, type FastSet } from '../../src/txn/fast-set.js';
import { Journal } from '../../src/txn/journal.js';
import { Transaction } from '../../src/txn/transaction.js';
import type { WriteSet, WriteSetSchema } from '../../src/txn/write-set.js';
import { World } from '../../src/world/world.js';

export interface InternalCommit<T> {
  readonly value: T;
  readonly writeSet: WriteSet;
  /**
   * The write set as the commit path encodes it (straight from the table columns, copying runs
   * of consecutive slots as bytes): must equal `encodeWriteSet(writeSet, schema)`.
   */
  readonly liveBytes: Uint8Array;
}

export class InternalDb {
  readonly world: World;
  readonly journal: Journal;

  readonly #fastSets: readonly (FastSet | undefined)[];

  /** `fastSets: false` makes every `set` take the separate check, journal and write steps (test/txn/fast-set.test.ts). */
  constructor(components: readonly AnyComponentDef[], options: { fastSets?: boolean } = {}) {
    this.world = new World(components);
    this.journal = new Journal(this.world);
    this.#fastSets = options.fastSets === false ? [] : this.world.tables.map(fastSetOf);
  }

  /** The schema write sets of this world are encoded against. */
  get schema(): WriteSetSchema {
    return this.world.tables.map((table) => table.fields);
  }

  transact<T>(fn: (tx: Transaction) => T): InternalCommit<T> {
    const { journal } = this;
    const tx = new Transaction(this.world, journal, this.#fastSets);
    journal.begin();
    let value: T;
    try {
      value = fn(tx);
      if (value !== null && typeof value === 'object' && typeof (value as { then?: unknown }).then === 'function') {
        Promise.resolve(value).catch(() => undefined);
        throw new EcsdbError('ASYNC_TRANSACTION', 'a transaction callback returned a promise');
      }
    } catch (error) {
      tx.close();
      journal.rollback();
      journal.end();
      throw error;
    }
    tx.close();
    const writer = new ByteWriter();
    journal.encodeWriteSetInto(writer, this.schema);
    const writeSet = journal.buildWriteSet();
    journal.end();
    return { value, writeSet, liveBytes: writer.toBytes() };
  }
}
