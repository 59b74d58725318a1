/**
 * The `mostro` command line (`npm start -- <command>`, or `npx mostro <command>`).
 *
 *   start         the whole daemon in one process, embedding whatever the settings leave unset
 *   worker        the Temporal worker only (order workflows + activities)
 *   ingress       the Nostr and LND ingress only
 *   temporal:dev  the embedded Temporal server alone
 *   ui            the Temporal Web UI for the daemon's Temporal server (scripts/tools.sh builds it)
 *   admin …       support tooling (stuck trades, show a trade, repair signals)
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Runtime } from '@temporalio/worker';
import { ConfigError, loadSettings, settingsWarnings, type Settings } from './config/settings.js';
import { DAEMON_INFO_FILE, startDaemon, type DaemonInfo, type RunningDaemon } from './daemon/index.js';
import { createLogger, temporalLogger, type LogLevelName } from './logging.js';
import { useFastCrypto } from './nostr/fast-crypto.js';

const USAGE = `Usage: npm start -- [command] [options]        (or: npx mostro [command] [options])

Commands:
  start           run the whole daemon (default). Parts the settings leave unset are embedded: Temporal server,
                  PGlite database, local relay, simulated Lightning network (no real money)
  worker          run only the Temporal worker (needs a shared database, Temporal, relays and LND)
  ingress         run only the Nostr and LND ingress (same needs)
  temporal:dev    run the embedded Temporal server alone (see --help there)
  ui              serve the Temporal Web UI for the running daemon's Temporal server (or [temporal] address)
  admin <cmd>     support tooling: stuck | show <order-id> | signal <order-id> <signal> [json] (see: admin --help)

Options:
  --data-dir DIR      where the embedded parts and the generated key live (default .data)
  --config FILE       settings file (default DIR/settings.toml when it exists; template: settings.tpl.toml)
  --ephemeral-ports   embedded parts listen on free ports instead of 7233/7000/10009-10011
  --log-level LEVEL   debug | info | warn | error (default info)
  --ui                start: also serve the Temporal Web UI (http://127.0.0.1:8233) — needs scripts/tools.sh install
  --ui-port PORT      the Web UI's port (start --ui, ui; default 8233, a free one with --ephemeral-ports)
`;

const VERSION = (JSON.parse(fs.readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

interface CommonOptions {
  settings: Settings;
  dataDir: string;
  ephemeral: boolean;
  logLevel: LogLevelName;
  ui: boolean;
  uiPort: number | undefined;
  rest: string[];
}

function commonOptions(argv: string[]): CommonOptions | null {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      'data-dir': { type: 'string', default: '.data' },
      config: { type: 'string' },
      'ephemeral-ports': { type: 'boolean', default: false },
      'log-level': { type: 'string', default: 'info' },
      ui: { type: 'boolean', default: false },
      'ui-port': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  });
  if (values.help) {
    console.log(USAGE);
    return null;
  }
  const logLevel = values['log-level'] as LogLevelName;
  if (!['debug', 'info', 'warn', 'error', 'silent'].includes(logLevel)) throw new UsageError(`--log-level must be debug, info, warn or error`);
  const dataDir = path.resolve(values['data-dir']);
  const defaultConfig = path.join(dataDir, 'settings.toml');
  const file = values.config ?? (fs.existsSync(defaultConfig) ? defaultConfig : undefined);
  let uiPort: number | undefined;
  if (values['ui-port'] !== undefined) {
    uiPort = Number(values['ui-port']);
    if (!Number.isInteger(uiPort) || uiPort < 0 || uiPort > 65535) throw new UsageError(`--ui-port must be a port number, got "${values['ui-port']}"`);
  }
  return {
    settings: loadSettings(file),
    dataDir,
    ephemeral: values['ephemeral-ports'],
    logLevel,
    ui: values.ui,
    uiPort,
    rest: positionals,
  };
}

class UsageError extends Error {}

/** The lines people and scripts read: a banner, then `key: value` lines (`pubkey:`, `npub:`, `relay:`, `lnsim:`…). */
function printInfo(info: DaemonInfo, dataDir: string): void {
  const lines: string[] = [];
  if (info.lightning.mode === 'simulated') {
    lines.push(
      '',
      '************************************************************************',
      '*  SIMULATED LIGHTNING NETWORK: no real money moves. Invoices, escrows  *',
      '*  and payouts happen between simulated wallets only. Configure         *',
      '*  [lightning] in settings.toml to run against a real LND node.        *',
      '************************************************************************',
      '',
    );
  }
  lines.push(
    `Mostro daemon ${VERSION} (${info.keySource === 'generated' ? `new key generated in ${dataDir}` : `key from ${info.keySource === 'settings' ? 'settings' : dataDir}`})`,
    `pubkey: ${info.pubkey}`,
    `npub: ${info.npub}`,
    ...info.relays.map((r) => `relay: ${r}`),
    `temporal: ${info.temporal.address}`,
    `namespace: ${info.temporal.namespace}`,
    `task-queue: ${info.temporal.taskQueue}`,
    `database: ${info.database}`,
    `lightning: ${info.lightning.mode} (${info.lightning.network}, node ${info.lightning.nodePubkey})`,
  );
  if (info.lightning.lnsimControl) lines.push(`lnsim: ${info.lightning.lnsimControl}`);
  if (info.metrics) lines.push(`metrics: ${info.metrics}/metrics`);
  if (info.rpc) lines.push(`rpc: ${info.rpc}`);
  if (info.lightning.mode === 'simulated') {
    lines.push(
      '',
      'Try a trade:',
      '  npm run demo                                  two scripted traders complete a sell order, message by message',
      `  mostro-cli with MOSTRO_PUBKEY=${info.npub} and RELAYS=${info.relays.join(',')}`,
      `  pay escrows and make invoices with: LNSIM_URL=${info.lightning.lnsimControl} npm run lnsim -- pay <bolt11> | invoice <sats>`,
      '',
    );
  }
  console.log(lines.join('\n'));
}

async function run(roles: { worker: boolean; ingress: boolean }, argv: string[]): Promise<void> {
  const o = commonOptions(argv);
  if (!o) return;
  // Whatever the parts write in the data directory (PGlite, the Temporal store, the relay's file, lnsim, the key) is
  // the daemon user's alone, whichever library creates it: 0700 directories, 0600 files (src/daemon/data-dir.ts).
  process.umask(0o077);
  const log = createLogger(o.logLevel);
  for (const w of settingsWarnings(o.settings)) log.warn(w);
  // The SDK's own records (worker, workflow and activity logs) join the daemon's JSON log, ids as fields.
  Runtime.install({ logger: temporalLogger(log.child({ component: 'temporal-sdk' }), o.logLevel === 'debug' ? 'DEBUG' : 'INFO') });
  // libsecp256k1 for signatures and NIP-44: native when its addon was built, else WebAssembly.
  const crypto = useFastCrypto();
  if (crypto.fallbackReason) log.info(`crypto: ${crypto.backend}; native libsecp256k1 not used: ${crypto.fallbackReason}`);
  let daemon: RunningDaemon | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: draining the worker and shutting down`);
    await daemon?.stop();
    process.exit(0);
  };
  // Handlers first: a signal that arrives before a listener exists kills the process outright.
  process.once('SIGINT', () => void stop('SIGINT'));
  process.once('SIGTERM', () => void stop('SIGTERM'));
  daemon = await startDaemon({ settings: o.settings, dataDir: o.dataDir, roles, ports: o.ephemeral ? 'ephemeral' : 'fixed', log, version: VERSION });
  if (stopping) return;
  // For tools on this machine (`npm run demo`, scripts): where the running daemon can be reached.
  const infoFile = path.join(o.dataDir, DAEMON_INFO_FILE);
  fs.writeFileSync(infoFile, `${JSON.stringify({ ...daemon.info, pid: process.pid }, null, 2)}\n`);
  const started = daemon;
  daemon = {
    ...started,
    stop: async () => {
      fs.rmSync(infoFile, { force: true });
      await started.stop();
    },
  };
  printInfo(daemon.info, o.dataDir);
  if (o.ui) {
    const ui = await serveWebUi(o, daemon.info.temporal.address, daemon.info.temporal.namespace);
    if (ui) {
      const withUi = daemon;
      daemon = { ...withUi, stop: async () => (await ui.stop(), await withUi.stop()) };
      console.log(`ui: ${ui.url}/namespaces/${encodeURIComponent(daemon.info.temporal.namespace)}/workflows`);
    }
  }
  if (roles.worker) {
    const t0 = Date.now();
    const check = await daemon.client.workflow.execute('selfCheckWorkflow', {
      taskQueue: daemon.info.temporal.taskQueue,
      workflowId: `self-check-${process.pid}-${Date.now()}`,
    });
    console.log(`Self-check passed in ${Date.now() - t0} ms: workflow ${check.workflowId} ran on ${check.worker}`);
  }
  console.log('Ready. Press Ctrl+C to stop.');
  await daemon.done;
  if (!stopping) {
    log.error('the worker stopped on its own; shutting down');
    await daemon.stop();
    process.exit(1);
  }
}

/** `--ui`: the Web UI beside the daemon; a missing binary is a warning with the install command, not a failure. */
async function serveWebUi(o: CommonOptions, temporalAddress: string, namespace: string) {
  const { startWebUi, WebUiMissing } = await import('./temporal/web-ui.js');
  const t = o.settings.temporal;
  try {
    return await startWebUi({
      temporalAddress,
      namespace,
      port: o.uiPort ?? (o.ephemeral ? 0 : 8233),
      tls: t.tls_cert_file && t.tls_key_file ? { certFile: t.tls_cert_file, keyFile: t.tls_key_file, caFile: t.tls_ca_file, serverName: t.tls_server_name } : undefined,
    });
  } catch (err) {
    if (err instanceof WebUiMissing) {
      console.warn(`Web UI not started: ${err.message}`);
      return undefined;
    }
    throw err;
  }
}

/**
 * `mostro ui`: the Temporal Web UI for the daemon's Temporal server — the running `npm start`'s embedded server (its
 * data directory's daemon.json), else `[temporal] address`, else the embedded server's fixed port.
 */
async function ui(argv: string[]): Promise<void> {
  const o = commonOptions(argv);
  if (!o) return;
  const { WebUiMissing } = await import('./temporal/web-ui.js');
  let address = o.settings.temporal.address;
  let namespace = o.settings.temporal.namespace;
  const infoFile = path.join(o.dataDir, DAEMON_INFO_FILE);
  if (!address && fs.existsSync(infoFile)) {
    const info = JSON.parse(fs.readFileSync(infoFile, 'utf8')) as DaemonInfo;
    ({ address, namespace } = info.temporal);
  }
  address ??= '127.0.0.1:7233';
  let running;
  try {
    running = await serveWebUi({ ...o, ui: true }, address, namespace);
  } catch (err) {
    throw err instanceof WebUiMissing ? new UsageError(err.message) : err;
  }
  if (!running) {
    process.exitCode = 2;
    return;
  }
  const r = running;
  console.log(`temporal: ${address}\nui: ${r.url}/namespaces/${encodeURIComponent(namespace)}/workflows\nPress Ctrl+C to stop.`);
  let stopping = false;
  const stop = () => {
    stopping = true;
    void r.stop().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  const code = await r.exited;
  if (stopping) return;
  console.error(`mostro: the Web UI server exited (${code})`);
  process.exit(1);
}

async function temporalDev(argv: string[]): Promise<void> {
  process.argv = [process.argv[0]!, 'temporal:dev', ...argv];
  await import('@mostro/temporal-devserver/cli');
}

async function admin(argv: string[]): Promise<void> {
  const { runAdmin, AdminUsageError, ADMIN_USAGE } = await import('./admin/cli.js');
  try {
    process.exitCode = await runAdmin(argv);
  } catch (err) {
    if (err instanceof AdminUsageError) throw new UsageError(`${err.message}\n\n${ADMIN_USAGE}`);
    throw err;
  }
}

const commands: Record<string, (argv: string[]) => Promise<void>> = {
  start: (a) => run({ worker: true, ingress: true }, a),
  worker: (a) => run({ worker: true, ingress: false }, a),
  ingress: (a) => run({ worker: false, ingress: true }, a),
  'temporal:dev': temporalDev,
  ui,
  admin,
};

const args = process.argv.slice(2);
const [command, rest] = args[0] === undefined || args[0].startsWith('-') ? ['start', args] : [args[0], args.slice(1)];
const cmd = commands[command];
if (!cmd) {
  console.error(`Unknown command "${command}".\n\n${USAGE}`);
  process.exit(2);
}
cmd(rest).catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`mostro: ${err.message}`);
  else if (err instanceof UsageError) console.error(`mostro: ${(err as Error).message}`);
  else if ((err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) console.error(`mostro: ${(err as Error).message}\n\n${USAGE}`);
  else console.error(`mostro: ${(err as Error).message}`);
  process.exit(err instanceof ConfigError || err instanceof UsageError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS') ? 2 : 1);
});
