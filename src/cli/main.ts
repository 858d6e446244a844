#!/usr/bin/env node
/**
 * The `ecsdb` command line. This version has one command, `inspect`; the others of the spec
 * (validate, snapshot, restore, compact, repair, dump) come with the configuration issue.
 *
 * Exit status: 0 success, 1 the directory is damaged or cannot be read, 2 bad usage.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EcsdbError } from '../errors.js';
import { inspectDirectory, type Inspection } from './inspect.js';

const USAGE = `usage: ecsdb <command> [options]

commands:
  inspect   the database in a directory: identity, schema, WAL segments and LSN range

options:
  --dir <path>   the data directory (required)
  --json         machine-readable output
  --help         this text
  --version      the ecsdb version`;

async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: { dir: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' }, version: { type: 'boolean' } },
    });
  } catch (error) {
    process.stderr.write(`ecsdb: ${(error as Error).message}\n${USAGE}\n`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.version) {
    const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    process.stdout.write(`${packageJson.version}\n`);
    return 0;
  }
  if (values.help || positionals.length === 0) {
    process.stdout.write(`${USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const [command] = positionals;
  if (command !== 'inspect') {
    process.stderr.write(`ecsdb: unknown command ${JSON.stringify(command)}; this version has: inspect\n`);
    return 2;
  }
  if (values.dir === undefined) {
    process.stderr.write('ecsdb inspect: --dir <path> is required\n');
    return 2;
  }
  const inspection = await inspectDirectory(values.dir);
  process.stdout.write(values.json ? `${JSON.stringify(inspection, null, 2)}\n` : formatInspection(inspection));
  return inspection.damage.length === 0 ? 0 : 1;
}

function formatInspection(inspection: Inspection): string {
  const lines = [
    `directory      ${inspection.dir}`,
    `database id    ${inspection.databaseId}`,
    `created        ${new Date(inspection.createdAtMs).toISOString()}`,
    `LSN range      ${inspection.firstLsn} .. ${inspection.lastLsn} (${inspection.recordCount} records)`,
    `schema:`,
    ...inspection.schema.map((component) => `  ${component.name} { ${component.fields.join(', ')} }`),
    `WAL segments:`,
    ...inspection.segments.map((segment) => `  ${segment.name}  ${segment.sizeBytes} bytes  LSN ${segment.firstLsn}..${segment.lastLsn}`),
    ...inspection.damage.map((problem) => `DAMAGE: ${problem}`),
  ];
  return `${lines.join('\n')}\n`;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`ecsdb: ${error instanceof EcsdbError ? `${error.code}: ${error.message}` : String(error)}\n`);
    process.exit(1);
  },
);
