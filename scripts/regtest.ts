/**
 * A real Lightning network on regtest for a person: btcd and three LND nodes (mostro, buyer, seller) with channels
 * seller ⇄ mostro ⇄ buyer — the network of support/regtest.ts, left running in the background.
 *
 *   npm run regtest -- up [--dir D]            start it (detached) and print each node's credentials
 *   npm run regtest -- status [--dir D]        what runs, heights, channels
 *   npm run regtest -- mine [N] [--dir D]      mine N blocks (default 1)
 *   npm run regtest -- down [--dir D] [--keep] stop it and remove D (--keep: leave data and logs)
 *
 * D defaults to ${XDG_RUNTIME_DIR or the temp dir}/mostro-regtest. Needs `scripts/tools.sh install btcd lnd`.
 * docs/regtest.md.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as ln from 'lightning';
import {
  btcdRpc,
  NODE_NAMES,
  processAlive,
  readRegtestState,
  regtestAvailable,
  startRegtest,
  stopRegtest,
  STATE_FILE,
  type RegtestState,
} from '../support/regtest.js';
import { tool } from '../src/tools.js';

const usage = 'usage: npm run regtest -- up|status|down|mine [N] [--dir D] [--keep]';

function parse(argv: string[]) {
  const o = { cmd: '', dir: path.join(process.env.XDG_RUNTIME_DIR || os.tmpdir(), 'mostro-regtest'), keep: false, n: 1 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--dir') o.dir = path.resolve(argv[++i] ?? fail(usage));
    else if (a.startsWith('--dir=')) o.dir = path.resolve(a.slice(6));
    else if (a === '--keep') o.keep = true;
    else if (a === '-h' || a === '--help') o.cmd = 'help';
    else if (!o.cmd) o.cmd = a;
    else if (o.cmd === 'mine' && /^\d+$/.test(a)) o.n = Number(a);
    else fail(`unexpected argument ${a}\n${usage}`);
  }
  return o;
}

function fail(msg: string): never {
  console.error(msg);
  process.exit(2);
}

/** Which of the state's processes run. */
function liveness(s: RegtestState, dir: string) {
  const btcd = processAlive(s.btcd.pid, dir);
  const nodes = Object.fromEntries(NODE_NAMES.map((n) => [n, processAlive(s.nodes[n]?.pid, dir)])) as Record<string, boolean>;
  return { btcd, nodes, any: btcd || Object.values(nodes).some(Boolean), all: btcd && Object.values(nodes).every(Boolean) };
}

function describe(s: RegtestState): string {
  const lncli = tool('lncli');
  const btcctl = tool('btcctl');
  const out: string[] = [];
  out.push(`btcd      rpc ${s.btcd.rpcHost} (user ${s.btcd.rpcUser}, password ${s.btcd.rpcPass}), cert ${s.btcd.rpcCertPath}`);
  out.push(
    `  btcctl: ${btcctl.binary} --regtest --rpcserver=${s.btcd.rpcHost} --rpcuser=${s.btcd.rpcUser} --rpcpass=${s.btcd.rpcPass} --rpccert=${s.btcd.rpcCertPath} getblockcount`,
  );
  for (const n of NODE_NAMES) {
    const x = s.nodes[n];
    out.push('');
    out.push(`${n.padEnd(9)} ${x.pubkey}`);
    out.push(`  grpc:     ${x.grpcSocket}     p2p: ${x.pubkey}@${x.p2pSocket}`);
    out.push(`  cert:     ${x.certPath}`);
    out.push(`  macaroon: ${x.macaroonPath}`);
    out.push(`  lncli:    ${lncli.binary} --network=regtest --rpcserver=${x.grpcSocket} --tlscertpath=${x.certPath} --macaroonpath=${x.macaroonPath} getinfo`);
  }
  const m = s.nodes.mostro;
  out.push('');
  out.push('# mostrod against the mostro node: settings.toml');
  out.push('[lightning]');
  out.push(`lnd_grpc_host = "https://${m.grpcSocket}"`);
  out.push(`lnd_cert_file = "${m.certPath}"`);
  out.push(`lnd_macaroon_file = "${m.macaroonPath}"`);
  out.push('# or in the environment:');
  out.push(`# MOSTRO_LND_GRPC_HOST=https://${m.grpcSocket} MOSTRO_LND_CERT_FILE=${m.certPath} MOSTRO_LND_MACAROON_FILE=${m.macaroonPath}`);
  return out.join('\n');
}

async function up(dir: string): Promise<void> {
  const avail = regtestAvailable();
  if (!avail.ok) fail(`regtest: ${avail.reason}`);
  const prev = readRegtestState(dir);
  if (prev) {
    const l = liveness(prev, dir);
    if (l.all) {
      console.log(`regtest: already up in ${dir}\n\n${describe(prev)}`);
      return;
    }
    if (l.any) fail(`regtest: a network in ${dir} is partly up; run: npm run regtest -- down --dir ${dir}`);
    fs.rmSync(dir, { recursive: true, force: true }); // a stopped network of ours: start afresh
  } else if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) {
    fail(`regtest: ${dir} is not empty and holds no ${STATE_FILE}; pick another --dir`);
  }
  const net = await startRegtest({ dir, detached: true, keep: true, log: (l) => console.error(l) });
  console.log(`regtest: up in ${dir} (${(net.timings.total! / 1000).toFixed(1)} s); logs in ${path.join(dir, 'logs')}\n`);
  console.log(describe(readRegtestState(dir)!));
  console.log(`\nstop it with: npm run regtest -- down${dir === parse([]).dir ? '' : ` --dir ${dir}`}`);
}

async function status(dir: string): Promise<number> {
  const s = readRegtestState(dir);
  if (!s) {
    console.log(`regtest: not running (no ${path.join(dir, STATE_FILE)})`);
    return 1;
  }
  const l = liveness(s, dir);
  console.log(`regtest in ${dir}, started ${s.startedAt}`);
  let height: number | string = 'n/a';
  if (l.btcd) height = await btcdRpc<number>(s.btcd, 'getblockcount').catch((e: Error) => e.message);
  console.log(`btcd      ${l.btcd ? `running (pid ${s.btcd.pid}), height ${height}` : 'stopped'}`);
  for (const n of NODE_NAMES) {
    const x = s.nodes[n];
    if (!l.nodes[n]) {
      console.log(`${n.padEnd(9)} stopped`);
      continue;
    }
    const { lnd } = ln.authenticatedLndGrpc({
      socket: x.grpcSocket,
      cert: fs.readFileSync(x.certPath).toString('base64'),
      macaroon: fs.readFileSync(x.macaroonPath).toString('base64'),
    });
    try {
      const [info, bal] = await Promise.all([ln.getWalletInfo({ lnd }), ln.getChannelBalance({ lnd })]);
      console.log(
        `${n.padEnd(9)} running (pid ${x.pid}) ${x.grpcSocket}, height ${info.current_block_height}${info.is_synced_to_chain ? ' synced' : ' NOT synced'}, ` +
          `${info.active_channels_count} active channel(s), ${bal.channel_balance} sat local`,
      );
    } catch (e) {
      console.log(`${n.padEnd(9)} running (pid ${x.pid}) but GetInfo failed: ${JSON.stringify(e)}`);
    }
  }
  return l.all ? 0 : 1;
}

async function main(): Promise<number> {
  const o = parse(process.argv.slice(2));
  switch (o.cmd) {
    case 'up':
      await up(o.dir);
      return 0;
    case 'status':
      return status(o.dir);
    case 'mine': {
      const s = readRegtestState(o.dir);
      if (!s || !processAlive(s.btcd.pid, o.dir)) fail(`regtest: not running in ${o.dir}`);
      const hashes = await btcdRpc<string[]>(s.btcd, 'generate', [o.n]);
      console.log(`mined ${hashes.length} block(s); height ${await btcdRpc<number>(s.btcd, 'getblockcount')}`);
      return 0;
    }
    case 'down': {
      if (!readRegtestState(o.dir)) {
        console.log(`regtest: nothing to stop (no ${path.join(o.dir, STATE_FILE)})`);
        return 0;
      }
      const start = Date.now();
      const { stopped } = await stopRegtest(o.dir, { keep: o.keep });
      console.log(`regtest: stopped ${stopped.length ? stopped.join(', ') : 'nothing (already stopped)'} in ${((Date.now() - start) / 1000).toFixed(1)} s${o.keep ? `; kept ${o.dir}` : `; removed ${o.dir}`}`);
      return 0;
    }
    case 'help':
      console.log(usage);
      return 0;
    default:
      fail(usage);
  }
}

// The gRPC clients and the HTTPS agent would keep the process alive; the network itself runs on without it.
main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.message);
    process.exit(1);
  },
);
