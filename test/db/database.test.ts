/** Database#transact() and the database lifecycle, in memory mode. */
import { describe, expect, it } from 'vitest';
import { EcsdbError, defineComponent, open, t, type Database, type Transaction } from '../../src/index.js';
import { Frozen, Health, Name, Position, SPEC_COMPONENTS, Target } from '../helpers/fixtures.js';
import { expectEcsdbError, thrownBy } from '../helpers/errors.js';

async function openDb(): Promise<Database> {
  return open({ components: SPEC_COMPONENTS });
}

class Boom extends Error {}

/** Everything a reader can see of the spec components, for before/after comparisons. */
function visibleState(db: Database, ids: readonly number[]) {
  return {
    lsn: db.lsn,
    entityCount: db.entityCount,
    all: db.query(),
    values: ids.map((id) =>
      db.exists(id) ? SPEC_COMPONENTS.map((def) => db.get(id, def as typeof Position) ?? null) : 'dead',
    ),
  };
}

async function populated(): Promise<{ db: Database; ids: number[] }> {
  const db = await openDb();
  const ids = db.transact((tx) => {
    const created = [tx.create(), tx.create(), tx.create()];
    tx.add(created[0], Position, { x: 1, y: 2, z: 3 });
    tx.add(created[1], Name, { value: 'one' });
    tx.add(created[1], Target, { entity: created[0] });
    tx.add(created[2], Frozen);
    return created;
  }).value;
  return { db, ids };
}

describe('open()', () => {
  it('opens an empty database in memory mode when no directory is given', async () => {
    const db = await openDb();
    expect(db.lsn).toBe(0);
    expect(db.entityCount).toBe(0);
    expect(db.query()).toEqual([]);
  });

  it('rejects two components with the same name with DUPLICATE_COMPONENT', async () => {
    const again = defineComponent('Position', { x: t.f64 });
    await expect(open({ components: [Position, again] })).rejects.toMatchObject({ code: 'DUPLICATE_COMPONENT' });
  });

  it('rejects something that is not a component definition with INVALID_ARGUMENT', async () => {
    await expect(open({ components: [{ name: 'Fake' } as never] })).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(open(null as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    await expect(open({} as never)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });

  it('rejects an unknown durability with CONFIG_INVALID', async () => {
    await expect(open({ components: [], durability: 'eventual' as never })).rejects.toBeInstanceOf(EcsdbError);
    await expect(open({ components: [], durability: 'eventual' as never })).rejects.toMatchObject({ code: 'CONFIG_INVALID' });
  });
});

describe('Database#transact()', () => {
  it('returns what the callback returned as commit.value', async () => {
    const db = await openDb();
    const commit = db.transact(() => 'result');
    expect(commit.value).toBe('result');
  });

  it('gives each commit that changes something the next LSN', async () => {
    const db = await openDb();
    const lsns = [1, 2, 3].map(() => db.transact((tx) => tx.create()).lsn);
    expect(lsns).toEqual([1, 2, 3]);
    expect(db.lsn).toBe(3);
  });

  it('gives a transaction that changes nothing the LSN of the last commit', async () => {
    const db = await openDb();
    const e = db.transact((tx) => tx.create()).value;
    const commit = db.transact((tx) => tx.exists(e));
    expect(commit.lsn).toBe(1);
    expect(db.transact((tx) => tx.create()).lsn).toBe(2);
  });

  it('gives a transaction whose writes cancel out the LSN of the last commit', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const created = tx.create();
      tx.add(created, Position, { x: 1 });
      return created;
    }).value;
    expect(db.transact((tx) => tx.set(e, Position, {})).lsn).toBe(1);
    expect(
      db.transact((tx) => {
        tx.add(e, Health, { hp: 3 });
        tx.remove(e, Health);
      }).lsn,
    ).toBe(1);
    expect(db.transact((tx) => tx.set(e, Position, { x: 1 })).lsn).toBe(2);
  });

  it('resolves commit.durable at once in memory mode', async () => {
    const db = await openDb();
    const commit = db.transact((tx) => tx.create());
    let resolved = false;
    void commit.durable.then(() => (resolved = true));
    await Promise.resolve();
    expect(resolved).toBe(true);
  });

  it('makes a commit visible to readers as soon as it returns', async () => {
    const db = await openDb();
    const e = db.transact((tx) => {
      const id = tx.create();
      tx.add(id, Health, { hp: 3 });
      return id;
    }).value;
    expect(db.get(e, Health)).toEqual({ hp: 3 });
  });

  it('runs the callback synchronously, before transact returns', async () => {
    const db = await openDb();
    const order: string[] = [];
    db.transact(() => order.push('callback'));
    order.push('after');
    expect(order).toEqual(['callback', 'after']);
  });

  it('changes nothing when the callback throws, and rethrows the same error', async () => {
    const { db, ids } = await populated();
    const before = visibleState(db, ids);
    const boom = new Boom('stop');
    const error = thrownBy(() =>
      db.transact((tx) => {
        tx.set(ids[0], Position, { x: 100 });
        tx.destroy(ids[1]);
        tx.remove(ids[2], Frozen);
        tx.add(tx.create(), Health, { hp: 1 });
        throw boom;
      }),
    );
    expect(error).toBe(boom);
    expect(visibleState(db, ids)).toEqual(before);
  });

  it('leaves entity allocation as if the failed transaction never ran', async () => {
    const failed = await populated();
    const control = await populated();
    expect(() =>
      failed.db.transact((tx) => {
        tx.destroy(failed.ids[0]);
        tx.create();
        tx.create();
        throw new Boom();
      }),
    ).toThrow(Boom);
    const next = (db: Database): number[] => db.transact((tx) => [tx.create(), tx.create()]).value;
    expect(next(failed.db)).toEqual(next(control.db));
  });

  it('rejects a callback that returns a promise with ASYNC_TRANSACTION and changes nothing', async () => {
    const { db, ids } = await populated();
    const before = visibleState(db, ids);
    expectEcsdbError(
      () =>
        db.transact(async (tx) => {
          tx.set(ids[0], Position, { x: 100 });
          tx.create();
        }),
      'ASYNC_TRANSACTION',
    );
    expect(visibleState(db, ids)).toEqual(before);
  });

  it('does not let a rejected promise of an async callback go unhandled', async () => {
    const db = await openDb();
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => void unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    try {
      expectEcsdbError(() => db.transact(() => Promise.reject(new Boom())), 'ASYNC_TRANSACTION');
      await new Promise((resolve) => setTimeout(resolve, 10));
    } finally {
      process.off('unhandledRejection', onUnhandled);
    }
    expect(unhandled).toEqual([]);
  });

  it('closes the transaction object when the callback ends: later use throws TRANSACTION_CLOSED', async () => {
    const { db, ids } = await populated();
    let kept: Transaction | undefined;
    db.transact((tx) => {
      kept = tx;
    });
    expectEcsdbError(() => kept!.create(), 'TRANSACTION_CLOSED');
    expectEcsdbError(() => kept!.set(ids[0], Position, { x: 1 }), 'TRANSACTION_CLOSED');
    expectEcsdbError(() => kept!.get(ids[0], Position), 'TRANSACTION_CLOSED');
    expectEcsdbError(() => kept!.exists(ids[0]), 'TRANSACTION_CLOSED');
    expect(db.get(ids[0], Position)).toEqual({ x: 1, y: 2, z: 3 });
  });

  it('closes the transaction object of a failed callback too', async () => {
    const db = await openDb();
    let kept: Transaction | undefined;
    expect(() =>
      db.transact((tx) => {
        kept = tx;
        throw new Boom();
      }),
    ).toThrow(Boom);
    expectEcsdbError(() => kept!.create(), 'TRANSACTION_CLOSED');
    expect(db.entityCount).toBe(0);
  });

  it('rejects an async callback that writes after an await with TRANSACTION_CLOSED', async () => {
    const db = await openDb();
    let later: Promise<unknown> | undefined;
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          later = (async () => {
            await Promise.resolve();
            tx.create();
          })();
          return later;
        }),
      'ASYNC_TRANSACTION',
    );
    await expect(later).rejects.toMatchObject({ code: 'TRANSACTION_CLOSED' });
    expect(db.entityCount).toBe(0);
  });

  it('rejects transact() inside a callback with NESTED_TRANSACTION', async () => {
    const db = await openDb();
    const commit = db.transact((tx) => {
      const e = tx.create();
      expectEcsdbError(() => db.transact((inner) => inner.create()), 'NESTED_TRANSACTION');
      return e;
    });
    expect(db.query()).toEqual([commit.value]);
  });

  it('rolls back the outer transaction when the nested error escapes it', async () => {
    const db = await openDb();
    expectEcsdbError(
      () =>
        db.transact((tx) => {
          tx.create();
          db.transact(() => undefined);
        }),
      'NESTED_TRANSACTION',
    );
    expect(db.entityCount).toBe(0);
    expect(db.transact((tx) => tx.create()).lsn).toBe(1);
  });

  it('rejects a callback that is not a function with INVALID_ARGUMENT', async () => {
    const db = await openDb();
    expectEcsdbError(() => db.transact('nope' as never), 'INVALID_ARGUMENT');
  });

  it('rejects a durability that needs a WAL in memory mode with CONFIG_INVALID', async () => {
    const db = await openDb();
    expectEcsdbError(() => db.transact((tx) => tx.create(), { durability: 'strict' }), 'CONFIG_INVALID');
    expect(db.entityCount).toBe(0);
  });

  it('accepts durability memory per transaction in memory mode', async () => {
    const db = await openDb();
    expect(db.transact((tx) => tx.create(), { durability: 'memory' }).lsn).toBe(1);
  });
});

describe('Database#close()', () => {
  it('makes every later call fail with DB_CLOSED', async () => {
    const { db, ids } = await populated();
    await db.close();
    expect(db.closed).toBe(true);
    const calls: [string, () => unknown][] = [
      ['transact', () => db.transact(() => undefined)],
      ['get', () => db.get(ids[0], Position)],
      ['has', () => db.has(ids[0], Position)],
      ['exists', () => db.exists(ids[0])],
      ['query', () => db.query(Position)],
      ['queryRows', () => db.queryRows(Position)],
      ['columns', () => db.columns(Position)],
      ['entityAt', () => db.entityAt(0)],
    ];
    for (const [name, call] of calls) {
      const error = thrownBy(call);
      expect(error, name).toBeInstanceOf(EcsdbError);
      expect((error as EcsdbError).code, name).toBe('DB_CLOSED');
    }
  });

  it('is idempotent', async () => {
    const db = await openDb();
    await db.close();
    await expect(db.close()).resolves.toBeUndefined();
    expect(db.closed).toBe(true);
  });

  it('is rejected inside a transaction callback and leaves the database open', async () => {
    const db = await openDb();
    let closing: Promise<void> | undefined;
    db.transact(() => {
      closing = db.close();
    });
    await expect(closing).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect(db.closed).toBe(false);
    expect(db.transact((tx) => tx.create()).lsn).toBe(1);
  });
});
