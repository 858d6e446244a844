/** The edit distance behind "did you mean ...?". */
import { describe, expect, it } from 'vitest';
import { closest, editDistance } from '../../src/config/closest.js';

describe('editDistance', () => {
  it.each([
    ['', '', 0],
    ['', 'abc', 3],
    ['abc', '', 3],
    ['keep', 'keep', 0],
    ['kep', 'keep', 1],
    ['keeps', 'keep', 1],
    ['kaap', 'keep', 2],
    ['kitten', 'sitting', 3],
    ['flushintervalms', 'flush_interval_ms', 2],
  ])('%j to %j is %i', (a, b, distance) => {
    expect(editDistance(a, b)).toBe(distance);
    expect(editDistance(b, a)).toBe(distance);
  });
});

describe('closest', () => {
  it('picks the nearest candidate, ignoring case', () => {
    expect(closest('FLUSH_INTERVAL', ['segment_size_bytes_max', 'flush_interval_ms', 'batch_size_bytes_max'])).toBe('flush_interval_ms');
    expect(closest('flushIntervalMs', ['flush_interval_ms', 'segment_age_ms_max'])).toBe('flush_interval_ms');
  });

  it('prefers the earlier of equally near candidates, and has none for no candidates', () => {
    expect(closest('ab', ['aa', 'bb'])).toBe('aa');
    expect(closest('ab', [])).toBeUndefined();
  });
});
