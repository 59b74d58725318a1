/**
 * `npm run temporal:dev -- --port 7233 --data-dir .data/temporal [--time-skipping]`: the embedded Temporal server
 * on its own, for running workers and tools against it.
 */
import { parseArgs } from 'node:util';
import { consoleLogger, startDevServer, type LogLevel } from './server.js';
import { parseSaType, type SaType } from './visibility.js';

const USAGE = `Usage: npm run temporal:dev -- [options]

  --port <n>                 port on 127.0.0.1 (default 7233; 0 picks a free port)
  --data-dir <dir>           keep state in <dir> (default: in memory only)
  --time-skipping            jump the clock to the next timer whenever nothing is running
  --namespace <name>         register an extra namespace (repeatable)
  --search-attribute <N=T>   register a custom search attribute, e.g. OrderStatus=Keyword (repeatable)
  --retention <days>         retention of closed workflows (default 7)
  --no-fsync                 do not fdatasync each commit (still safe against kill -9, not against power loss)
  --log-level <level>        debug | info | warn | error (default info)
`;

function main(): Promise<void> | void {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        port: { type: 'string', default: '7233' },
        'data-dir': { type: 'string' },
        'time-skipping': { type: 'boolean', default: false },
        namespace: { type: 'string', multiple: true },
        'search-attribute': { type: 'string', multiple: true },
        retention: { type: 'string' },
        'no-fsync': { type: 'boolean', default: false },
        'log-level': { type: 'string', default: 'info' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(USAGE);
    return;
  }
  const fail = (msg: string) => {
    console.error(`temporal:dev: ${msg}`);
    process.exit(2);
  };
  const port = Number(values.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) fail(`--port must be a port number, got "${values.port}"`);
  const level = values['log-level'] as LogLevel;
  if (!['debug', 'info', 'warn', 'error'].includes(level)) fail(`--log-level must be debug, info, warn or error`);
  const searchAttributes: Record<string, SaType> = {};
  for (const sa of values['search-attribute'] ?? []) {
    const [name, type] = sa.split('=');
    if (!name || !type) fail(`--search-attribute expects Name=Type, got "${sa}"`);
    try {
      searchAttributes[name!] = parseSaType(type!);
    } catch (err) {
      fail(`--search-attribute ${sa}: ${(err as Error).message}`);
    }
  }
  let retentionMs: number | undefined;
  if (values.retention !== undefined) {
    const days = Number(values.retention);
    if (!(days > 0)) fail(`--retention must be a positive number of days, got "${values.retention}"`);
    retentionMs = days * 24 * 3600_000;
  }
  // Workflow histories are the user's alone: 0700 directories, 0600 files.
  process.umask(0o077);
  return (async () => {
    const server = await startDevServer({
      port,
      dataDir: values['data-dir'],
      timeSkipping: values['time-skipping'],
      namespaces: values.namespace,
      searchAttributes,
      retentionMs,
      fsync: !values['no-fsync'],
      log: consoleLogger(level),
    });
    // Handlers first: a signal that arrives before a listener exists kills the process outright.
    const stop = async (sig: string) => {
      console.log(`${sig}: shutting down`);
      await server.close();
      process.exit(0);
    };
    process.once('SIGINT', () => void stop('SIGINT'));
    process.once('SIGTERM', () => void stop('SIGTERM'));
    const mode = values['time-skipping'] ? 'time skipping (auto)' : 'real time';
    console.log(`Embedded Temporal server listening on ${server.address} (${mode}; ${values['data-dir'] ? `data in ${values['data-dir']}` : 'in memory'})`);
    console.log(`address: ${server.address}`);
  })().catch((err: unknown) => {
    console.error(`temporal:dev: ${(err as Error).message}`);
    process.exit(1);
  });
}

void main();
