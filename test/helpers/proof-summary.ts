/**
 * Proof-suite figures that are printed once, at the end of `npm test`, one line per family:
 *
 *   crash states: 12840, acknowledged lost: 0, partial visible: 0, unopenable: 0
 *
 * A test calls `reportFamily(family, counts)` after it has checked its cases. Test files run in
 * separate worker processes, so each report is appended as one JSON line to a file in the
 * directory that `test/global-setup.ts` creates and names in ECSDB_PROOF_SUMMARY_DIR; its
 * teardown sums the counts per family (keys in first-seen order) and prints the lines.
 * Outside that setup (a single file run by hand) the report goes to the console at once.
 */
import { appendFileSync } from 'node:fs';
import { join } from 'node:path';

/** Counts of one family; the first key is what was tried, the rest are failures (all 0 on a pass). */
export type FamilyCounts = Record<string, number>;

export const PROOF_SUMMARY_ENV = 'ECSDB_PROOF_SUMMARY_DIR';

export function reportFamily(family: string, counts: FamilyCounts): void {
  const dir = process.env[PROOF_SUMMARY_ENV];
  if (dir === undefined || dir === '') {
    console.log(formatFamilyLine(family, counts));
    return;
  }
  // One appendFileSync per report: a single write of a short line, so lines from concurrent
  // workers never interleave (each worker appends to its own file anyway).
  appendFileSync(join(dir, `${process.pid}.jsonl`), `${JSON.stringify({ family, counts })}\n`);
}

export function formatFamilyLine(family: string, counts: FamilyCounts): string {
  return `${family}: ${Object.entries(counts).map(([key, n], index) => (index === 0 ? `${n}` : `${key}: ${n}`)).join(', ')}`;
}

/** Sums the reports per family, keeping the order in which families and keys first appear. */
export function summarizeFamilies(reports: readonly { family: string; counts: FamilyCounts }[]): string[] {
  const totals = new Map<string, Map<string, number>>();
  for (const { family, counts } of reports) {
    let total = totals.get(family);
    if (total === undefined) totals.set(family, (total = new Map()));
    for (const [key, n] of Object.entries(counts)) total.set(key, (total.get(key) ?? 0) + n);
  }
  return [...totals].map(([family, total]) => formatFamilyLine(family, Object.fromEntries(total)));
}
