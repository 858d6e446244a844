/**
 * Vitest global setup: gives the proof suite a directory for its figures and, after the whole
 * run, prints one summary line per family (see test/helpers/proof-summary.ts).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PROOF_SUMMARY_ENV, summarizeFamilies, type FamilyCounts } from './helpers/proof-summary.js';

export default function setup(): () => void {
  const dir = mkdtempSync(join(tmpdir(), 'ecsdb-proof-summary-'));
  // Set before the worker processes start, so they inherit it.
  process.env[PROOF_SUMMARY_ENV] = dir;
  return () => {
    const reports: { family: string; counts: FamilyCounts }[] = [];
    for (const name of readdirSync(dir).sort()) {
      for (const line of readFileSync(join(dir, name), 'utf8').split('\n')) {
        if (line !== '') reports.push(JSON.parse(line) as { family: string; counts: FamilyCounts });
      }
    }
    rmSync(dir, { recursive: true, force: true });
    const lines = summarizeFamilies(reports);
    if (lines.length > 0) console.log(`\nProof suite summary\n${lines.map((line) => `  ${line}`).join('\n')}\n`);
  };
}
