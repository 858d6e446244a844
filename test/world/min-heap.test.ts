import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { heapPop, heapPush } from '../../src/world/min-heap.js';

describe('min-heap', () => {
  it('pops every pushed value in ascending order', () => {
    fc.assert(
      fc.property(fc.array(fc.nat({ max: 1000 })), (values) => {
        const heap: number[] = [];
        for (const value of values) heapPush(heap, value);
        const popped: number[] = [];
        for (let value = heapPop(heap); value !== undefined; value = heapPop(heap)) popped.push(value);
        expect(popped).toEqual([...values].sort((a, b) => a - b));
      }),
    );
  });

  it('returns undefined when empty', () => {
    expect(heapPop([])).toBeUndefined();
  });
});
