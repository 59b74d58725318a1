/**
 * `npm run lnsim -- <command>`: the simulated Lightning network for trying the daemon without a node.
 *
 *   serve                      run the network: the daemon's node as LND gRPC (TLS + macaroon), wallets
 *                              `buyer` and `seller` (and any --wallet), their Lightning Addresses, and the
 *                              control API; credentials are written to --dir like LND's (tls.cert, admin.macaroon),
 *                              and the network's state is kept there across restarts (see journal.ts)
 *   invoice <sats>             a wallet's invoice (default wallet: buyer) — e.g. a buyer's payout invoice
 *   pay <bolt11>               a wallet pays (default wallet: seller) — e.g. the seller paying the escrow
 *   fail-next-payment [reason] the daemon's next outgoing payment fails (default FAILURE_REASON_NO_ROUTE)
 *   hold-next-payment          the next payment stays in flight until `release-held`
 *   release-held [reason]      completes held payments (or fails them with a reason)
 *   mine [blocks]              advance the block height (expires hold invoices at their CLTV horizon)
 *   state | invoice-status <hash> | payment <hash>
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startLnsim } from './embedded.js';
import type { NetworkName } from './model.js';

const USAGE = `Usage: npm run lnsim -- <command> [options]

  serve [--dir .data/lnsim] [--network regtest] [--grpc-port 10009] [--control-port 10010]
        [--lnurl-port 10011] [--wallet <alias>]... [--host 127.0.0.1] [--tls-host <dns name>]...
  invoice <sats> [--node buyer] [--memo <text>] [--expiry <secs>]
  pay <bolt11> [--from seller] [--amount <sats>]
  fail-next-payment [reason] | hold-next-payment | release-held [reason]
  mine [blocks] | state | invoice-status <hash> | payment <hash>

  Client commands reach the control API at --url, $LNSIM_URL, the URL saved by 'serve' in --dir,
  or http://127.0.0.1:10010.
`;

const die = (msg: string): never => {
  console.error(`lnsim: ${msg}`);
  process.exit(2);
};

async function serve(v: Record<string, string | string[] | boolean | undefined>): Promise<void> {
  const network = String(v.network) as NetworkName;
  if (!['regtest', 'testnet', 'bitcoin'].includes(network)) die(`--network must be regtest, testnet or bitcoin`);
  const sim = await startLnsim({
    dir: String(v.dir),
    network,
    grpcPort: Number(v['grpc-port']),
    controlPort: Number(v['control-port']),
    lnurlPort: Number(v['lnurl-port']),
    wallets: v.wallet as string[] | undefined,
    host: String(v.host),
    tlsHosts: v['tls-host'] as string[] | undefined,
  });
  const kept = `${sim.net.invoices.size} invoices and ${sim.net.payments.size} payments kept in ${path.resolve(String(v.dir))}`;
  console.log(`lnsim: ${network} network at height ${sim.net.height}, ${kept}; never use it for real money`);
  console.log(`lnd-grpc: ${sim.credentials.socket}`);
  console.log(`lnd-cert: ${sim.certFile}`);
  console.log(`lnd-macaroon: ${sim.macaroonFile}`);
  console.log(`node-pubkey: ${sim.net.node('mostro').pubkey}`);
  console.log(`control: ${sim.controlUrl}`);
  for (const alias of sim.net.nodes.keys()) if (alias !== 'mostro') console.log(`address-${alias}: ${sim.addressOf(alias)}`);
  console.log('ready: lnsim');
  const stop = async () => {
    await sim.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
}

async function call(v: Record<string, unknown>, method: 'GET' | 'POST', route: string, body?: unknown): Promise<void> {
  const saved = path.join(path.resolve(String(v.dir)), 'control.url');
  const base = (v.url as string | undefined) ?? process.env.LNSIM_URL ?? (fs.existsSync(saved) ? fs.readFileSync(saved, 'utf8').trim() : 'http://127.0.0.1:10010');
  let res: Response;
  try {
    res = await fetch(`${base}${route}`, {
      method,
      headers: { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    return die(`no simulator answers at ${base} (start one with: npm run lnsim -- serve)`);
  }
  const text = await res.text();
  if (!res.ok) die(text.trim());
  process.stdout.write(text);
}

const int = (s: string | undefined, what: string): number | undefined => {
  if (s === undefined) return undefined;
  const n = Number(s);
  return Number.isSafeInteger(n) && n >= 0 ? n : die(`${what} must be a whole number, got '${s}'`);
};

async function main(): Promise<void> {
  let parsed;
  try {
    parsed = parseArgs({
      allowPositionals: true,
      options: {
        dir: { type: 'string', default: '.data/lnsim' },
        network: { type: 'string', default: 'regtest' },
        'grpc-port': { type: 'string', default: '10009' },
        'control-port': { type: 'string', default: '10010' },
        'lnurl-port': { type: 'string', default: '10011' },
        wallet: { type: 'string', multiple: true },
        host: { type: 'string', default: '127.0.0.1' },
        'tls-host': { type: 'string', multiple: true },
        url: { type: 'string' },
        node: { type: 'string' },
        from: { type: 'string' },
        memo: { type: 'string' },
        expiry: { type: 'string' },
        amount: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (err) {
    return die(`${(err as Error).message}\n\n${USAGE}`);
  }
  const { values: v, positionals: [cmd, arg] } = parsed;
  if (v.help || !cmd) return void console.log(USAGE);
  switch (cmd) {
    case 'serve':
      return serve(v);
    case 'state':
      return call(v, 'GET', '/state');
    case 'invoice':
      return call(v, 'POST', '/invoice', { sats: int(arg ?? die('invoice needs an amount in sats'), 'amount'), node: v.node, memo: v.memo, expiry_secs: int(v.expiry, '--expiry') });
    case 'pay':
      return call(v, 'POST', '/pay', { request: arg ?? die('pay needs a bolt11 invoice'), from: v.from, amount_sats: int(v.amount, '--amount') });
    case 'fail-next-payment':
      return call(v, 'POST', '/fail-next-payment', { reason: arg });
    case 'hold-next-payment':
      return call(v, 'POST', '/hold-next-payment', {});
    case 'release-held':
      return call(v, 'POST', '/release-held', { reason: arg });
    case 'mine':
      return call(v, 'POST', '/mine', { blocks: int(arg ?? '1', 'blocks') });
    case 'invoice-status':
      return call(v, 'GET', `/invoices/${arg ?? die('invoice-status needs a payment hash')}`);
    case 'payment':
      return call(v, 'GET', `/payments/${arg ?? die('payment needs a payment hash')}`);
    default:
      return die(`unknown command '${cmd}'\n\n${USAGE}`);
  }
}

await main();
