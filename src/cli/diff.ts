/**
 * `ecsdb diff --from-lsn A --to-lsn B` (or `--from-time` / `--to-time`): what changed between two
 * points of the retained history, from two read-only views (src/history/): entities added and
 * removed, and the components added, removed and changed of the others. Takes no lock and
 * changes nothing, so it runs next to a running application.
 */
import { openAt } from '../history/open-at.js';
import { diffViews, type StateDiff } from '../history/diff.js';
import type { HistoricalView } from '../history/view.js';
import { plain, requireMeta } from './common.js';

/** A point of the history: an LSN, or the last commit at or before a time. */
export type HistoryPoint = { readonly lsn: number } | { readonly timeMs: number };

export interface DiffResult extends StateDiff {
  readonly dir: string;
  readonly fromTimeMs: number | undefined;
  readonly toTimeMs: number | undefined;
}

/** Opens a read-only view of `dir` at `point` with the stored schema (no lock). */
export async function openStoredAt(dir: string, point: HistoryPoint): Promise<HistoricalView> {
  await requireMeta(dir); // a clear CLI error for a directory that is not ecsdb's
  return openAt({ dir, components: 'stored', ...point });
}

export async function diffDirectory(dir: string, from: HistoryPoint, to: HistoryPoint, component: string | undefined): Promise<DiffResult> {
  const before = await openStoredAt(dir, from);
  try {
    const after = await openStoredAt(dir, to);
    try {
      const result = diffViews(before, after, component === undefined ? {} : { components: [component] });
      return { dir, fromTimeMs: before.timeMs, toTimeMs: after.timeMs, ...(plain(result) as StateDiff) };
    } finally {
      after.close();
    }
  } finally {
    before.close();
  }
}

function when(lsn: number, timeMs: number | undefined): string {
  return `LSN ${lsn}${timeMs === undefined ? '' : ` (${new Date(timeMs).toISOString()})`}`;
}

export function formatDiff(result: DiffResult): string {
  const { added, removed, changed } = result;
  const lines = [
    `diff ${when(result.fromLsn, result.fromTimeMs)} -> ${when(result.toLsn, result.toTimeMs)}: ` +
      `${added.length} entities added, ${removed.length} removed, ${changed.length} changed`,
  ];
  for (const entity of added) lines.push(`+ ${entity.entity} ${JSON.stringify(entity.components)}`);
  for (const entity of removed) lines.push(`- ${entity.entity} ${JSON.stringify(entity.components)}`);
  for (const change of changed) {
    const parts: string[] = [];
    for (const [name, value] of Object.entries(change.added)) parts.push(`+${name} ${JSON.stringify(value)}`);
    for (const [name, value] of Object.entries(change.removed)) parts.push(`-${name} ${JSON.stringify(value)}`);
    for (const [name, { fields, before, after }] of Object.entries(change.changed)) {
      for (const field of fields) parts.push(`${name}.${field} ${JSON.stringify(before[field])} -> ${JSON.stringify(after[field])}`);
    }
    lines.push(`~ ${change.entity} ${parts.join('; ')}`);
  }
  return `${lines.join('\n')}\n`;
}
