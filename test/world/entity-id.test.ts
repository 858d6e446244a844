import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  GENERATION_MAX,
  SLOT_COUNT_MAX,
  entityIdOf,
  generationOf,
  isEntityIdShape,
  slotOf,
} from '../../src/world/entity-id.js';

describe('entity ids', () => {
  it('equal the slot at generation 0', () => {
    expect(entityIdOf(0, 0)).toBe(0);
    expect(entityIdOf(1234, 0)).toBe(1234);
  });

  it('round-trip slot and generation for every valid pair', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: SLOT_COUNT_MAX - 1 }), fc.integer({ min: 0, max: GENERATION_MAX }), (slot, generation) => {
        const id = entityIdOf(slot, generation);
        expect(Number.isSafeInteger(id)).toBe(true);
        expect(slotOf(id)).toBe(slot);
        expect(generationOf(id)).toBe(generation);
        expect(isEntityIdShape(id)).toBe(true);
      }),
    );
  });

  it('differ between generations of the same slot', () => {
    expect(entityIdOf(7, 1)).not.toBe(entityIdOf(7, 0));
    expect(slotOf(entityIdOf(7, 1))).toBe(7);
  });

  it.each([-1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, '1', null])('reject %j as an id shape', (value) => {
    expect(isEntityIdShape(value)).toBe(false);
  });
});
