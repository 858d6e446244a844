/**
 * The `ecsdb` command line as a function (main.ts runs it as the bin; tests may run it in
 * process): parses arguments with node:util parseArgs, runs one command, returns the exit
 * status. 0 success, 1 failure or damage (a one-line message on stderr), 2 bad usage, 130/143
 * a changing command stopped between two steps by SIGINT/SIGTERM (interrupt.ts).
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { EcsdbError } from '../errors.js';
import type { Database } from '../db/database.js';
import type { AnyComponentDef } from '../schema/component.js';
import { CliError, EXIT_FAILURE, EXIT_OK, EXIT_USAGE, openStored, plain, resolveDir, type CommonOptions } from './common.js';
import { REKEY_OPTIONS, rekeyCommand } from './rekey.js';
import { inspectDirectory, type Inspection } from './inspect.js';
import { compactDirectory, formatCompact } from './compact.js';
import { diffDirectory, formatDiff, openStoredAt, type HistoryPoint } from './diff.js';
import { formatRepair, repairDirectory } from './repair.js';
import { formatRestore, restoreDirectory } from './restore.js';
import { formatValidation, validateDirectory } from './validate.js';
import { runChangingCommand, beforeStep } from './interrupt.js';
import { endAllBars, terminalProgress } from './progress.js';

export interface CliOutput {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
}

const COMMON_OPTIONS = `options (every command):
  --dir <path>      the data directory (default: [storage] dir of the configuration)
  --config <file>   the configuration file (default: ./ecsdb.toml, or $ECSDB_CONFIG)
  --json            machine-readable output
  --key-file <file> the key of an encrypted directory (default: ECSDB_ENCRYPTION_KEY,
                    ECSDB_ENCRYPTION_PASSPHRASE, or [encryption] key_file of the configuration)
  --help            help for the command`;

const COMMANDS: Record<string, { summary: string; usage: string; extra?: string }> = {
  inspect: { summary: 'identity, schema, WAL segments and LSN range (read only)', usage: 'ecsdb inspect [options]' },
  validate: {
    summary: 'check every checksum: meta, MANIFEST, snapshots, WAL (read only); exit 1 on damage',
    usage: 'ecsdb validate [options]',
  },
  dump: {
    summary: 'the world as JSON lines, one entity per line (opens the database; with --lsn/--time a read-only view of the past)',
    usage: 'ecsdb dump [--component <Name>] [--lsn <n> | --time <t>] [options]',
    extra:
      '  --component <Name>  only entities that have this component, and only it\n' +
      '  --lsn <n>           the world after commit n, from the retained snapshots and WAL (no lock, nothing changed)\n' +
      '  --time <t>          the world after the last commit at or before t (ISO 8601, or ms since the epoch)',
  },
  diff: {
    summary: 'entities and components added, removed and changed between two points of the history (read only)',
    usage: 'ecsdb diff (--from-lsn <a> | --from-time <t>) (--to-lsn <b> | --to-time <t>) [--component <Name>] [options]',
    extra:
      '  --from-lsn <a>      the earlier point: the world after commit a (or --from-time <t>)\n' +
      '  --to-lsn <b>        the later point: the world after commit b (or --to-time <t>)\n' +
      '  --component <Name>  compare only this component',
  },
  snapshot: { summary: 'offline: recover, write a fresh snapshot, archive the WAL it covers', usage: 'ecsdb snapshot [options]' },
  restore: {
    summary: 'put the directory back to the state of a snapshot (--from) or an LSN (--lsn); removed files kept in <dir>/restore/',
    usage: 'ecsdb restore (--from <snapshot> | --lsn <n>) [options]',
    extra: '  --from <snapshot>   a snapshot file named by the MANIFEST (its state at its end LSN)\n  --lsn <n>           the state after commit n',
  },
  compact: {
    summary: 'offline: snapshot, then delete older snapshots and archived WAL no longer needed; report bytes freed',
    usage: 'ecsdb compact [options]',
  },
  repair: {
    summary: 'cut a damaged WAL at its first bad record, keeping the cut bytes in <dir>/repair/',
    usage: 'ecsdb repair [options]',
  },
  rekey: {
    summary: 'offline: re-encrypt every file under a new key (or encrypt / decrypt the directory), crash-safe',
    usage: 'ecsdb rekey (--new-key-file <file> | --new-key-env <VAR> | --new-passphrase-env <VAR> | --decrypt) [options]',
    extra:
      '  --new-key-file <file>       the new key: a file holding 64 hex digits, base64, or 32 raw bytes\n' +
      '  --new-key-env <VAR>         the new key, from environment variable VAR (64 hex digits or base64)\n' +
      '  --new-passphrase-env <VAR>  the new passphrase, from environment variable VAR (the key is derived with scrypt)\n' +
      '  --decrypt                   store the directory in the clear\n' +
      '  the current key comes from --key-file or the configuration / environment, like every command',
  },
};

const USAGE = `usage: ecsdb <command> [options]

commands:
${Object.entries(COMMANDS)
  .map(([name, c]) => `  ${name.padEnd(9)} ${c.summary}`)
  .join('\n')}

${COMMON_OPTIONS}
  --version         the ecsdb version

exit status: 0 success, 1 failure or damage found, 2 bad usage, 130 stopped by Ctrl-C (143 by SIGTERM)`;

function commandHelp(name: string): string {
  const command = COMMANDS[name];
  return `usage: ${command.usage}\n\n${command.summary}\n\n${command.extra === undefined ? '' : `${command.extra}\n`}${COMMON_OPTIONS}\n\nexit status: 0 success, 1 failure or damage found, 2 bad usage, 130 stopped by Ctrl-C (143 by SIGTERM)`;
}

export async function runCli(argv: readonly string[], out: CliOutput): Promise<number> {
  try {
    return await run(argv, out);
  } catch (error) {
    endAllBars(); // first: clearing a bar later would wipe the message written after it
    if (error instanceof CliError) {
      out.stderr(`${oneLine(error.message)}\n`);
      if (error.exitCode === EXIT_USAGE) out.stderr(`${USAGE}\n`);
      return error.exitCode;
    }
    out.stderr(`ecsdb: ${oneLine(error instanceof EcsdbError ? `${error.code}: ${error.message}` : String(error))}\n`);
    return EXIT_FAILURE;
  } finally {
    endAllBars(); // a bar left drawing would keep the process alive (its redraw timer)
  }
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ');
}

async function run(argv: readonly string[], out: CliOutput): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        dir: { type: 'string' },
        config: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
        version: { type: 'boolean' },
        component: { type: 'string' },
        from: { type: 'string' },
        lsn: { type: 'string' },
        time: { type: 'string' },
        'from-lsn': { type: 'string' },
        'to-lsn': { type: 'string' },
        'from-time': { type: 'string' },
        'to-time': { type: 'string' },
        'key-file': { type: 'string' },
        ...REKEY_OPTIONS,
      },
    });
  } catch (error) {
    throw new CliError(`ecsdb: ${(error as Error).message}`, EXIT_USAGE);
  }
  const { values, positionals } = parsed;
  if (values.version) {
    const packageJson = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    out.stdout(`${packageJson.version}\n`);
    return EXIT_OK;
  }
  const [command, ...rest] = positionals;
  if (command === undefined) {
    out.stdout(`${USAGE}\n`);
    return values.help ? EXIT_OK : EXIT_USAGE;
  }
  if (!(command in COMMANDS)) throw new CliError(`ecsdb: unknown command ${JSON.stringify(command)}; commands: ${Object.keys(COMMANDS).join(', ')}`, EXIT_USAGE);
  if (values.help) {
    out.stdout(`${commandHelp(command)}\n`);
    return EXIT_OK;
  }
  if (rest.length > 0) throw new CliError(`ecsdb ${command}: unexpected argument ${JSON.stringify(rest[0])}`, EXIT_USAGE);
  if (values.component !== undefined && command !== 'dump' && command !== 'diff') throw new CliError(`ecsdb ${command}: --component is an option of dump and diff only`, EXIT_USAGE);
  if (values.from !== undefined && command !== 'restore') throw new CliError(`ecsdb ${command}: --from is an option of restore only`, EXIT_USAGE);
  if (values.lsn !== undefined && command !== 'restore' && command !== 'dump') throw new CliError(`ecsdb ${command}: --lsn is an option of restore and dump only`, EXIT_USAGE);
  if (values.time !== undefined && command !== 'dump') throw new CliError(`ecsdb ${command}: --time is an option of dump only`, EXIT_USAGE);
  const diffOptions = ['from-lsn', 'to-lsn', 'from-time', 'to-time'] as const;
  for (const option of diffOptions) {
    if (values[option] !== undefined && command !== 'diff') throw new CliError(`ecsdb ${command}: --${option} is an option of diff only`, EXIT_USAGE);
  }
  let restoreTarget: { from?: string; lsn?: number } = {};
  if (command === 'restore') {
    if ((values.from === undefined) === (values.lsn === undefined)) throw new CliError('ecsdb restore: give exactly one of --from <snapshot> or --lsn <n>', EXIT_USAGE);
    if (values.lsn !== undefined) {
      if (!/^\d+$/.test(values.lsn) || !Number.isSafeInteger(Number(values.lsn))) throw new CliError(`ecsdb restore: --lsn needs a whole number, got ${JSON.stringify(values.lsn)}`, EXIT_USAGE);
      restoreTarget = { lsn: Number(values.lsn) };
    } else {
      restoreTarget = { from: values.from };
    }
  }
  const rekeyGiven = Object.keys(REKEY_OPTIONS).some((name) => (values as Record<string, unknown>)[name] !== undefined);
  if (rekeyGiven && command !== 'rekey') throw new CliError(`ecsdb ${command}: --new-key-file, --new-key-env, --new-passphrase-env and --decrypt are options of rekey only`, EXIT_USAGE);
  const common: CommonOptions = { dir: values.dir, config: values.config, json: values.json, keyFile: values['key-file'] };
  const dir = await resolveDir(command, common);
  const json = values.json === true;
  const progress = terminalProgress(process.stderr, json);
  switch (command) {
    case 'inspect': {
      const inspection = await inspectDirectory(dir, common);
      out.stdout(json ? `${JSON.stringify(inspection, null, 2)}\n` : formatInspection(inspection));
      return inspection.damage.length === 0 ? EXIT_OK : EXIT_FAILURE;
    }
    case 'validate': {
      const validation = await validateDirectory(dir, progress, common);
      out.stdout(json ? `${JSON.stringify(validation, null, 2)}\n` : formatValidation(validation));
      if (!validation.ok) {
        const first = validation.problems[0];
        out.stderr(`ecsdb validate: ${validation.problems.length} problem(s); first: ${first.file}${first.offset === undefined ? '' : ` at byte offset ${first.offset}`}\n`);
        return EXIT_FAILURE;
      }
      return EXIT_OK;
    }
    case 'dump': {
      if (values.lsn !== undefined && values.time !== undefined) throw new CliError('ecsdb dump: give at most one of --lsn and --time', EXIT_USAGE);
      const at = historyPoint('dump', values.lsn === undefined ? undefined : ['lsn', values.lsn], values.time === undefined ? undefined : ['time', values.time]);
      return dump(dir, common, values.component, at, out);
    }
    case 'diff': {
      const from = historyPoint('diff', optional('from-lsn', values['from-lsn']), optional('from-time', values['from-time']));
      const to = historyPoint('diff', optional('to-lsn', values['to-lsn']), optional('to-time', values['to-time']));
      if (from === undefined || to === undefined) throw new CliError('ecsdb diff: give --from-lsn or --from-time, and --to-lsn or --to-time', EXIT_USAGE);
      const result = await diffDirectory(dir, from, to, values.component, common);
      out.stdout(json ? `${JSON.stringify(result, null, 2)}\n` : formatDiff(result));
      return EXIT_OK;
    }
    case 'snapshot': {
      const result = await runChangingCommand('snapshot', async () => {
        const { db } = await openStored(dir, common);
        try {
          await beforeStep('take a snapshot');
          return await db.snapshot();
        } finally {
          await db.close();
        }
      });
      const entry = { file: result.file, startLsn: result.startLsn, endLsn: result.endLsn, createdAtMs: result.createdAtMs, sizeBytes: result.sizeBytes, ...(result.base === undefined ? {} : { base: result.base }) };
      out.stdout(
        json
          ? `${JSON.stringify(entry, null, 2)}\n`
          : `snapshot ${entry.file}: LSN ${entry.startLsn}..${entry.endLsn}, ${entry.sizeBytes} bytes${entry.base === undefined ? '' : `, incremental on ${entry.base}`}\n`,
      );
      return EXIT_OK;
    }
    case 'restore': {
      const result = await runChangingCommand('restore', () => restoreDirectory(dir, restoreTarget, Date.now(), progress, common));
      out.stdout(json ? `${JSON.stringify(result, null, 2)}\n` : formatRestore(result));
      return EXIT_OK;
    }
    case 'compact': {
      const result = await runChangingCommand('compact', () => compactDirectory(dir, common));
      out.stdout(json ? `${JSON.stringify(result, null, 2)}\n` : formatCompact(result));
      return EXIT_OK;
    }
    case 'repair': {
      const result = await runChangingCommand('repair', () => repairDirectory(dir, progress, common));
      out.stdout(json ? `${JSON.stringify(result, null, 2)}\n` : formatRepair(result));
      return EXIT_OK;
    }
    case 'rekey':
      return rekeyCommand(dir, common, values, out);
    default:
      throw new CliError(`ecsdb: unknown command ${JSON.stringify(command)}`, EXIT_USAGE);
  }
}

function optional(name: string, value: string | undefined): [string, string] | undefined {
  return value === undefined ? undefined : [name, value];
}

/**
 * A point of the history from an LSN option (a whole number) or a time option (ISO 8601, or ms
 * since the epoch); undefined when neither was given, usage when both were or one is malformed.
 */
function historyPoint(command: string, lsn: [string, string] | undefined, time: [string, string] | undefined): HistoryPoint | undefined {
  if (lsn !== undefined && time !== undefined) throw new CliError(`ecsdb ${command}: give --${lsn[0]} or --${time[0]}, not both`, EXIT_USAGE);
  if (lsn !== undefined) {
    if (!/^\d+$/.test(lsn[1]) || !Number.isSafeInteger(Number(lsn[1]))) throw new CliError(`ecsdb ${command}: --${lsn[0]} needs a whole number, got ${JSON.stringify(lsn[1])}`, EXIT_USAGE);
    return { lsn: Number(lsn[1]) };
  }
  if (time !== undefined) {
    const timeMs = /^\d+$/.test(time[1]) ? Number(time[1]) : Date.parse(time[1]);
    if (!Number.isFinite(timeMs)) throw new CliError(`ecsdb ${command}: --${time[0]} needs an ISO 8601 time or ms since the epoch, got ${JSON.stringify(time[1])}`, EXIT_USAGE);
    return { timeMs };
  }
  return undefined;
}

/** What dump reads: the open database, or a read-only view of the past. */
type DumpSource = { query: Database['query']; get: Database['get']; close(): unknown };

async function dump(dir: string, common: CommonOptions, componentName: string | undefined, at: HistoryPoint | undefined, out: CliOutput): Promise<number> {
  const openView = async (point: HistoryPoint) => {
    const view = await openStoredAt(dir, point, common);
    return { db: view, components: [...view.components] };
  };
  const { db, components }: { db: DumpSource; components: readonly AnyComponentDef[] } =
    at === undefined ? await openStored(dir, common) : await openView(at);
  try {
    let selected = components;
    if (componentName !== undefined) {
      const only = components.find((c) => c.name === componentName);
      if (only === undefined) {
        throw new CliError(`ecsdb dump: no component ${JSON.stringify(componentName)}; the schema has ${components.map((c) => c.name).join(', ')}`, EXIT_FAILURE);
      }
      selected = [only];
    }
    const entities = componentName === undefined ? db.query() : db.query(selected[0]);
    let chunk: string[] = [];
    for (const entity of entities) {
      const line: Record<string, unknown> = { entity };
      for (const component of selected) {
        const value = db.get(entity, component);
        if (value !== undefined) line[component.name] = plain(value);
      }
      chunk.push(JSON.stringify(line));
      if (chunk.length >= 1000) {
        out.stdout(`${chunk.join('\n')}\n`);
        chunk = [];
      }
    }
    if (chunk.length > 0) out.stdout(`${chunk.join('\n')}\n`);
  } finally {
    await db.close();
  }
  return EXIT_OK;
}

function formatInspection(inspection: Inspection): string {
  const lines = [
    `directory      ${inspection.dir}`,
    `database id    ${inspection.databaseId}`,
    `created        ${new Date(inspection.createdAtMs).toISOString()}`,
    `LSN range      ${inspection.firstLsn} .. ${inspection.lastLsn} (${inspection.recordCount} records)`,
    `schema version ${inspection.schemaVersion}`,
    ...(inspection.schemaHistory.length > 1
      ? [`schema epochs:`, ...inspection.schemaHistory.map((epoch) => `  version ${epoch.version} from LSN ${epoch.fromLsn}: ${epoch.components.join(', ')}`)]
      : []),
    `schema:`,
    ...inspection.schema.map((component) => `  ${component.name} { ${component.fields.join(', ')} }`),
    `WAL segments:`,
    ...inspection.segments.map(
      (segment) =>
        `  ${segment.name}  ${segment.sizeBytes} bytes${segment.unusedBytes > 0 ? ` (${segment.unusedBytes} preallocated, unused)` : ''}  LSN ${segment.firstLsn}..${segment.lastLsn}`,
    ),
    ...inspection.warnings.map((warning) => `warning: ${warning} (open() cuts it)`),
    ...inspection.damage.map((problem) => `DAMAGE: ${problem}`),
  ];
  return `${lines.join('\n')}\n`;
}
