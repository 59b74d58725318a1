/**
 * A real Lightning network on regtest: one btcd (the chain, mining on demand) and three LND nodes — `mostro`, `buyer`,
 * `seller` — built by `scripts/tools.sh install` (btcd v0.25.0, LND v0.19.3-beta). All on ephemeral loopback ports,
 * all data in one directory, every log in `<dir>/logs/`.
 *
 * The network `startRegtest` hands back: each node synced to the chain with 1 BTC UTXOs on chain, and two public,
 * announced channels of 10,000,000 sat with half pushed to the other side —
 *
 *     seller ⇄ mostro ⇄ buyer      (5,000,000 sat each way on each, less the channel reserve)
 *
 * so any node can pay any other in both directions (seller ↔ buyer over mostro), and every node's graph knows both
 * channels. Coinbase goes to an anyone-can-spend P2WSH(OP_TRUE) address, so the fixture funds the nodes itself with a
 * transaction that needs no signature (btcd has no `generatetoaddress` and no wallet).
 *
 * `npm run regtest -- up|down|status` (scripts/regtest.ts) runs the same network for a person; docs/regtest.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { bech32, bech32m } from '@scure/base';
import * as ln from 'lightning';
import { freePort } from '../src/free-port.js';
import { installHint, tool } from '../src/tools.js';

export type NodeName = 'mostro' | 'buyer' | 'seller';
export const NODE_NAMES: readonly NodeName[] = ['mostro', 'buyer', 'seller'];

/** Capacity of each channel, and the part pushed to the side that did not open it. */
export const CHANNEL_CAPACITY = 10_000_000;
export const CHANNEL_PUSH = 5_000_000;
/** Who opens which channel (the other side gets CHANNEL_PUSH). */
const CHANNELS: readonly [NodeName, NodeName][] = [
  ['seller', 'mostro'],
  ['mostro', 'buyer'],
];
/** Each node's on-chain funds: UTXOS_PER_NODE outputs of 1 BTC (several, so parallel channel opens need no change). */
const UTXOS_PER_NODE = 4;
const UTXO_SATS = 100_000_000;
/**
 * Segwit activates on btcd's regtest by BIP9 signalling, windows of 144 blocks: started at 144, locked in at 288,
 * active from 432 (bitcoind's regtest has it from the start). LND's wallet and channels are all segwit, and btcd
 * refuses a transaction with witness data before; 432 blocks also mature the first coinbases (100 confirmations).
 */
const SEGWIT_HEIGHT = 432;

const RPC_USER = 'mostro';
const RPC_PASS = 'regtest';

/** The witness script `OP_TRUE`: its P2WSH output is spent with the script alone, no signature. */
const OP_TRUE = Buffer.from([0x51]);
const OP_TRUE_PROGRAM = crypto.createHash('sha256').update(OP_TRUE).digest();
const MINING_ADDRESS = bech32.encode('bcrt', [0, ...bech32.toWords(OP_TRUE_PROGRAM)]);

export interface RegtestNode {
  name: NodeName;
  /** gRPC `host:port` (127.0.0.1), as `lightning` and mostrod's `lnd_grpc_host` take it. */
  grpcSocket: string;
  /** Lightning P2P `host:port`. */
  p2pSocket: string;
  /** base64 of the TLS certificate PEM (what `ln.authenticatedLndGrpc` takes). */
  cert: string;
  /** base64 of the admin macaroon. */
  macaroon: string;
  certPath: string;
  macaroonPath: string;
  pubkey: string;
  /** A client of this node. Replaced by a fresh one when `startNode` restarts it. */
  lnd: ln.AuthenticatedLnd;
  /** Its `--lnddir`. */
  dir: string;
  /** The process id while it runs, else undefined. */
  pid: number | undefined;
}

export interface RegtestBtcd {
  /** JSON-RPC (HTTPS, self-signed certificate) and the block/transaction notification websocket. */
  rpcHost: string;
  p2pHost: string;
  rpcUser: string;
  rpcPass: string;
  rpcCertPath: string;
  pid: number | undefined;
  /** A JSON-RPC call to btcd. */
  rpc<T = unknown>(method: string, params?: unknown[]): Promise<T>;
}

export interface RegtestNetwork {
  btcd: RegtestBtcd;
  nodes: Record<NodeName, RegtestNode>;
  dir: string;
  /** Mines `blocks` blocks and waits until every running node has seen them; the blocks' hashes. */
  mine(blocks: number): Promise<string[]>;
  /** The chain's height. */
  height(): Promise<number>;
  /** Stops one LND gracefully (SIGTERM; SIGKILL after 15 s), keeping its data. */
  stopNode(name: NodeName): Promise<void>;
  /** Starts a stopped LND again with the same data and ports; resolves when it is synced and its channels are active. */
  startNode(name: NodeName): Promise<void>;
  /** Stops every process and removes the directory (unless `keep`). Safe to call twice. */
  close(): Promise<void>;
  /** How long each start-up phase took (ms), for docs/regtest.md. */
  timings: Record<string, number>;
}

export interface StartRegtestOptions {
  /** Where the network lives (created; must be empty or absent). Default: a new temporary directory. */
  dir?: string;
  /** Progress lines (each phase and its time). */
  log?: (line: string) => void;
  /** Keep the directory (data and logs) on close. */
  keep?: boolean;
  /**
   * The processes outlive this one (their own process groups, no exit hook): for `npm run regtest -- up`, which
   * exits and leaves the network to `down`. Default false: the processes are killed when this process exits.
   */
  detached?: boolean;
}

/** Whether btcd and LND are built (scripts/tools.sh install btcd lnd). */
export function regtestAvailable(): { ok: true } | { ok: false; reason: string } {
  for (const name of ['btcd', 'lnd'] as const) {
    const t = tool(name);
    if (!t.installed) return { ok: false, reason: installHint(t) };
  }
  return { ok: true };
}

/** The state file `startRegtest` writes into its directory (read by `npm run regtest -- status|down`). */
export interface RegtestState {
  version: 1;
  startedAt: string;
  detached: boolean;
  btcd: { pid: number | undefined; rpcHost: string; p2pHost: string; rpcUser: string; rpcPass: string; rpcCertPath: string; args: string[] };
  nodes: Record<NodeName, { pid: number | undefined; grpcSocket: string; p2pSocket: string; certPath: string; macaroonPath: string; pubkey: string; dir: string; args: string[] }>;
}
export const STATE_FILE = 'regtest.json';

type Tx = { txid: string; vout: { value: number }[] };

interface Proc {
  name: string;
  child: ChildProcess;
  logFile: string;
  exited: Promise<void>;
}

const LND_STOP_GRACE_MS = 15_000;
const BTCD_STOP_GRACE_MS = 5_000;

export async function startRegtest(opts: StartRegtestOptions = {}): Promise<RegtestNetwork> {
  const avail = regtestAvailable();
  if (!avail.ok) throw new Error(avail.reason);
  let dir: string;
  if (opts.dir) {
    dir = path.resolve(opts.dir);
    if (fs.existsSync(dir) && fs.readdirSync(dir).length > 0) throw new Error(`regtest: ${dir} is not empty`);
    fs.mkdirSync(dir, { recursive: true });
  } else {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-regtest-'));
  }
  const net = new Regtest(dir, opts);
  try {
    await net.boot();
    return net;
  } catch (err) {
    opts.log?.(`[regtest] start-up failed: ${(err as Error).message.split('\n')[0]}`);
    // Half-made: nothing worth a graceful shutdown (an LND creating its wallet ignores SIGTERM for seconds).
    await net.shutdown(2_000).catch(() => undefined);
    throw err;
  }
}

class Regtest implements RegtestNetwork {
  readonly timings: Record<string, number> = {};
  btcd!: RegtestBtcd;
  nodes = {} as Record<NodeName, RegtestNode>;
  private btcdProc: Proc | undefined;
  private readonly lndProcs = new Map<NodeName, Proc>();
  private readonly lndArgs = new Map<NodeName, string[]>();
  private btcdArgs: string[] = [];
  private readonly agent = new https.Agent({ keepAlive: true, maxSockets: 4 });
  private readonly t0 = Date.now();
  private closed = false;
  private readonly onExit = () => this.killAllNow();
  private watchdog: ChildProcess | undefined;
  /** Every pid spawned, one a line: what the watchdog kills. */
  private readonly pidsFile: string;

  constructor(
    readonly dir: string,
    private readonly opts: StartRegtestOptions,
  ) {
    fs.mkdirSync(path.join(dir, 'logs'), { recursive: true });
    this.pidsFile = path.join(dir, 'pids');
    if (!opts.detached) {
      process.once('exit', this.onExit);
      this.startWatchdog();
    }
  }

  /**
   * The exit hook does not run when this process is killed by a signal (a test runner ending a worker, `timeout`,
   * kill -9): a small shell, in its own process group, waits for this process to go and then SIGKILLs every pid in
   * `pids` whose command line still names the directory, and removes the directory (unless `keep`). `close` ends it.
   */
  private startWatchdog(): void {
    const q = (x: string) => `'${x.replace(/'/g, `'\\''`)}'`;
    const me = process.pid;
    const script = `
      if [ -r /proc/self/stat ]; then
        alive() { s=$(sed 's/.*) //' /proc/${me}/stat 2>/dev/null | cut -c1); [ -n "$s" ] && [ "$s" != Z ]; }
        ours() { tr '\\0' ' ' < /proc/$1/cmdline 2>/dev/null | grep -qF -- ${q(this.dir)}; }
      else
        alive() { kill -0 ${me} 2>/dev/null; }
        ours() { kill -0 $1 2>/dev/null; }
      fi
      while alive; do sleep 1; done
      for p in $(cat ${q(this.pidsFile)} 2>/dev/null); do ours $p && kill -KILL $p; done
      ${this.opts.keep ? '' : `rm -rf -- ${q(this.dir)}`}
    `;
    this.watchdog = spawn('/bin/sh', ['-c', script], { detached: true, stdio: 'ignore' });
    this.watchdog.unref();
  }

  private log(s: string) {
    this.opts.log?.(`[regtest ${((Date.now() - this.t0) / 1000).toFixed(1)}s] ${s}`);
  }

  private async phase<T>(name: string, f: () => Promise<T>): Promise<T> {
    const start = Date.now();
    const r = await f();
    this.timings[name] = Date.now() - start;
    this.log(`${name}: ${this.timings[name]} ms`);
    return r;
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Start-up

  async boot(): Promise<void> {
    const start = Date.now();
    await this.phase('btcd', () => this.startBtcd());
    // The LND nodes start (wallet creation, a few seconds of scrypt each) while btcd mines to segwit.
    const mature = this.phase('mine to segwit', () => this.mineToSegwit());
    mature.catch(() => undefined); // awaited below, unless the nodes fail first
    await this.phase('lnd nodes', async () => {
      await Promise.all(NODE_NAMES.map((n) => this.prepareNode(n)));
      await Promise.all(NODE_NAMES.map((n) => this.spawnLnd(n)));
      await Promise.all(NODE_NAMES.map((n) => this.waitLndReady(n)));
    });
    await mature;
    await this.phase('fund nodes', () => this.fundNodes());
    await this.phase('open channels', () => this.openChannels());
    await this.phase('announce channels', () => this.waitGraphs());
    this.timings.total = Date.now() - start;
    this.log(`up in ${this.timings.total} ms`);
    this.writeState();
  }

  private async startBtcd(): Promise<void> {
    const bdir = path.join(this.dir, 'btcd');
    fs.mkdirSync(bdir, { recursive: true });
    const rpcPort = await freePort();
    const p2pPort = await freePort();
    const rpcCertPath = path.join(bdir, 'rpc.cert');
    this.btcdArgs = [
      '--regtest',
      // As lnd's itest harness runs its miner (lntest/btcd.go, lntest/miner).
      '--rejectnonstd',
      '--txindex',
      '--trickleinterval=100ms',
      '--nobanning',
      '--nostalldetect',
      '--debuglevel=info',
      `--datadir=${path.join(bdir, 'data')}`,
      `--logdir=${path.join(bdir, 'logs')}`,
      `--rpccert=${rpcCertPath}`,
      `--rpckey=${path.join(bdir, 'rpc.key')}`,
      `--rpcuser=${RPC_USER}`,
      `--rpcpass=${RPC_PASS}`,
      `--rpclisten=127.0.0.1:${rpcPort}`,
      '--rpcmaxwebsockets=50',
      `--listen=127.0.0.1:${p2pPort}`,
      `--miningaddr=${MINING_ADDRESS}`,
    ];
    this.btcdProc = this.spawnProc('btcd', tool('btcd').binary, this.btcdArgs, bdir);
    const rpcHost = `127.0.0.1:${rpcPort}`;
    const proc = this.btcdProc;
    this.btcd = {
      rpcHost,
      p2pHost: `127.0.0.1:${p2pPort}`,
      rpcUser: RPC_USER,
      rpcPass: RPC_PASS,
      rpcCertPath,
      get pid() {
        return proc.child.exitCode === null && proc.child.signalCode === null ? proc.child.pid : undefined;
      },
      rpc: <T>(method: string, params: unknown[] = []) => btcdRpc<T>({ rpcHost, rpcCertPath, rpcUser: RPC_USER, rpcPass: RPC_PASS }, method, params, this.agent),
    };
    // btcd writes its certificate, then serves.
    await this.waitFor('btcd RPC', [this.btcdProc], 30_000, async () => {
      if (!fs.existsSync(rpcCertPath)) return false;
      await this.btcd.rpc('getblockcount');
      return true;
    });
  }

  private async mineToSegwit(): Promise<void> {
    await this.btcd.rpc('generate', [SEGWIT_HEIGHT]);
    const info = await this.btcd.rpc<{ bip9_softforks?: Record<string, { status: string }> }>('getblockchaininfo');
    const status = info.bip9_softforks?.segwit?.status;
    if (status !== 'active') throw new Error(`regtest: segwit is ${status} at height ${SEGWIT_HEIGHT} (expected active)`);
  }

  private async prepareNode(name: NodeName): Promise<void> {
    const ndir = path.join(this.dir, name);
    fs.mkdirSync(ndir, { recursive: true });
    const grpcPort = await freePort();
    const p2pPort = await freePort();
    const p2pSocket = `127.0.0.1:${p2pPort}`;
    const args = [
      `--lnddir=${ndir}`,
      `--alias=${name}`,
      '--bitcoin.active',
      '--bitcoin.regtest',
      '--bitcoin.node=btcd',
      `--btcd.rpchost=${this.btcd.rpcHost}`,
      `--btcd.rpcuser=${RPC_USER}`,
      `--btcd.rpcpass=${RPC_PASS}`,
      `--btcd.rpccert=${this.btcd.rpcCertPath}`,
      `--rpclisten=127.0.0.1:${grpcPort}`,
      `--listen=${p2pSocket}`,
      `--externalip=${p2pSocket}`,
      '--norest',
      '--nobootstrap',
      '--noseedbackup',
      '--debuglevel=info',
      '--accept-keysend',
      // From lnd's itest harness (lntest/node/config.go, harness_node.go): channels usable after one confirmation, a
      // short CSV delay for force-closes, gossip and graph caches that do not make tests wait.
      '--bitcoin.defaultchanconfs=1',
      '--bitcoin.defaultremotedelay=4',
      '--trickledelay=50',
      '--db.batch-commit-interval=10ms',
      '--gossip.sub-batch-delay=5ms',
      '--caches.rpc-graph-cache-duration=100ms',
      // A restarted peer is dialled again within seconds (default backoff up to an hour).
      '--maxbackoff=2s',
    ];
    this.lndArgs.set(name, args);
    const certPath = path.join(ndir, 'tls.cert');
    const macaroonPath = path.join(ndir, 'data', 'chain', 'bitcoin', 'regtest', 'admin.macaroon');
    this.nodes[name] = {
      name,
      grpcSocket: `127.0.0.1:${grpcPort}`,
      p2pSocket,
      cert: '',
      macaroon: '',
      certPath,
      macaroonPath,
      pubkey: '',
      lnd: undefined as unknown as ln.AuthenticatedLnd,
      dir: ndir,
      pid: undefined,
    };
  }

  private async spawnLnd(name: NodeName): Promise<void> {
    const node = this.nodes[name];
    const proc = this.spawnProc(name, tool('lnd').binary, this.lndArgs.get(name)!, node.dir);
    this.lndProcs.set(name, proc);
    node.pid = proc.child.pid;
    void proc.exited.then(() => {
      if (this.lndProcs.get(name) === proc) node.pid = undefined;
    });
  }

  /** Until the node answers GetInfo (its wallet created or unlocked, its RPC services up). */
  private async waitLndReady(name: NodeName, timeoutMs = 60_000): Promise<void> {
    const node = this.nodes[name];
    const proc = this.lndProcs.get(name)!;
    await this.waitFor(`${name} LND RPC`, [proc, this.btcdProc!], timeoutMs, async () => {
      if (!fs.existsSync(node.macaroonPath) || !fs.existsSync(node.certPath)) return false;
      if (!node.cert) {
        node.cert = fs.readFileSync(node.certPath).toString('base64');
        node.macaroon = fs.readFileSync(node.macaroonPath).toString('base64');
        node.lnd = ln.authenticatedLndGrpc({ cert: node.cert, macaroon: node.macaroon, socket: node.grpcSocket }).lnd;
      }
      const info = await ln.getWalletInfo({ lnd: node.lnd });
      node.pubkey = info.public_key;
      return true;
      // Every refused GetInfo is an [ERR] line in LND's log: ask less often while it creates or unlocks its wallet.
    }, 250);
  }

  /** Until the node is synced to btcd's tip (and, optionally, has the given confirmed on-chain balance). */
  private async waitSynced(name: NodeName, minChainBalance = 0, timeoutMs = 60_000): Promise<void> {
    const node = this.nodes[name];
    await this.waitFor(`${name} synced to the chain`, [this.lndProcs.get(name)!, this.btcdProc!], timeoutMs, async () => {
      const [tip, info] = await Promise.all([this.btcd.rpc<number>('getblockcount'), ln.getWalletInfo({ lnd: node.lnd })]);
      if (!info.is_synced_to_chain || info.current_block_height !== tip) return false;
      if (minChainBalance > 0 && (await ln.getChainBalance({ lnd: node.lnd })).chain_balance < minChainBalance) return false;
      return true;
    });
  }

  /** One transaction spending the first matured coinbase (P2WSH OP_TRUE) to UTXOS_PER_NODE outputs per node. */
  private async fundNodes(): Promise<void> {
    const addresses = await Promise.all(
      NODE_NAMES.map(async (n) => {
        const out: string[] = [];
        for (let i = 0; i < UTXOS_PER_NODE; i++) out.push((await ln.createChainAddress({ lnd: this.nodes[n].lnd, format: 'p2wpkh' })).address);
        return out;
      }),
    );
    const hash = await this.btcd.rpc<string>('getblockhash', [1]);
    // btcd puts the transactions of verbosity 2 under `rawtx` (bitcoind: `tx`).
    const block = await this.btcd.rpc<{ rawtx?: Tx[]; tx?: Tx[] }>('getblock', [hash, 2]);
    const coinbase = (block.rawtx ?? block.tx)![0]!;
    const inputSats = Math.round(coinbase.vout[0]!.value * 1e8);
    const outputs = addresses.flat().map((a) => ({ script: scriptOf(a), sats: UTXO_SATS }));
    const fee = 10_000;
    const change = inputSats - outputs.length * UTXO_SATS - fee;
    if (change < 0) throw new Error(`regtest: coinbase of ${inputSats} sat cannot fund ${outputs.length} outputs`);
    outputs.push({ script: Buffer.concat([Buffer.from([0x00, 0x20]), OP_TRUE_PROGRAM]), sats: change });
    const tx = opTrueSpend(coinbase.txid, 0, outputs);
    await this.btcd.rpc('sendrawtransaction', [tx.toString('hex')]);
    await this.btcd.rpc('generate', [1]);
    await Promise.all(NODE_NAMES.map((n) => this.waitSynced(n, UTXOS_PER_NODE * UTXO_SATS)));
  }

  private async openChannels(): Promise<void> {
    const before = (await this.btcd.rpc<string[]>('getrawmempool')).length;
    await Promise.all(
      CHANNELS.map(async ([from, to]) => {
        const a = this.nodes[from];
        const b = this.nodes[to];
        // With both cores busy a peer connection can drop in the middle of the funding negotiation
        // (RemotePeerDisconnected): reconnect and open again — unless the open got as far as a pending channel.
        for (let attempt = 1; ; attempt++) {
          try {
            await ln.addPeer({ lnd: a.lnd, public_key: b.pubkey, socket: b.p2pSocket, timeout: 10_000 });
            await ln.openChannel({
              lnd: a.lnd,
              partner_public_key: b.pubkey,
              local_tokens: CHANNEL_CAPACITY,
              give_tokens: CHANNEL_PUSH,
              chain_fee_tokens_per_vbyte: 2,
              description: `regtest ${from}→${to}`,
            });
            return;
          } catch (err) {
            const pending = await ln.getPendingChannels({ lnd: a.lnd }).catch(() => ({ pending_channels: [] as { partner_public_key: string }[] }));
            if (pending.pending_channels.some((c) => c.partner_public_key === b.pubkey)) return;
            if (attempt >= 5) throw new Error(`opening the channel ${from}→${to} failed ${attempt} times: ${JSON.stringify(err)}`);
            this.log(`opening ${from}→${to} failed (${JSON.stringify(err)}); again`);
            await sleep(1000 * attempt);
          }
        }
      }),
    );
    // The funding transactions are in btcd's mempool; six confirmations make the channels announceable.
    await this.waitFor('funding transactions in the mempool', [this.btcdProc!], 30_000, async () => {
      return (await this.btcd.rpc<string[]>('getrawmempool')).length >= before + CHANNELS.length;
    });
    await this.mine(6);
    await Promise.all(NODE_NAMES.map((n) => this.waitChannelsActive(n)));
  }

  /** Until the node's channels with running peers are active, as it sees them and as those peers do. */
  private async waitChannelsActive(name: NodeName, timeoutMs = 60_000): Promise<void> {
    const node = this.nodes[name];
    const peers = CHANNELS.flatMap(([a, b]) => (a === name ? [b] : b === name ? [a] : [])).filter((p) => this.nodes[p].pid !== undefined);
    const procs = [this.lndProcs.get(name)!, this.btcdProc!];
    await this.waitFor(`${name}'s channels active`, procs, timeoutMs, async () => {
      for (const peer of peers) {
        const [mine, theirs] = await Promise.all([
          ln.getChannels({ lnd: node.lnd, partner_public_key: this.nodes[peer].pubkey }),
          ln.getChannels({ lnd: this.nodes[peer].lnd, partner_public_key: node.pubkey }),
        ]);
        for (const list of [mine.channels, theirs.channels]) if (list.length === 0 || !list.every((c) => c.is_active)) return false;
      }
      return true;
    });
  }

  /** Until every node's graph has every channel with both directions' policies (so multi-hop routes are found) and every node. */
  private async waitGraphs(timeoutMs = 60_000): Promise<void> {
    await Promise.all(
      NODE_NAMES.map((n) =>
        this.waitFor(`${n}'s graph`, [this.lndProcs.get(n)!], timeoutMs, async () => {
          const g = await ln.getNetworkGraph({ lnd: this.nodes[n].lnd });
          const complete = g.channels.filter((c) => c.policies.length === 2 && c.policies.every((p) => p.cltv_delta !== undefined));
          // The node announcements travel apart from the channels' (under load, seconds later): wait for every alias too.
          const aliases = new Set(g.nodes.map((node) => node.alias));
          return complete.length >= CHANNELS.length && NODE_NAMES.every((name) => aliases.has(name));
        }),
      ),
    );
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Operation

  async height(): Promise<number> {
    return this.btcd.rpc<number>('getblockcount');
  }

  async mine(blocks: number): Promise<string[]> {
    const hashes = await this.btcd.rpc<string[]>('generate', [blocks]);
    const tip = await this.height();
    const running = NODE_NAMES.filter((n) => this.nodes[n]?.pid !== undefined && this.nodes[n].lnd);
    await Promise.all(
      running.map((n) =>
        this.waitFor(`${n} at height ${tip}`, [this.lndProcs.get(n)!], 60_000, async () => {
          const info = await ln.getWalletInfo({ lnd: this.nodes[n].lnd });
          return info.current_block_height >= tip && info.is_synced_to_chain;
        }),
      ),
    );
    return hashes;
  }

  async stopNode(name: NodeName): Promise<void> {
    const proc = this.lndProcs.get(name);
    if (!proc) return;
    this.log(`stopping ${name}`);
    closeLnd(this.nodes[name].lnd);
    await stopProc(proc, LND_STOP_GRACE_MS);
    this.nodes[name].pid = undefined;
    this.writeState();
  }

  async startNode(name: NodeName): Promise<void> {
    const old = this.lndProcs.get(name);
    if (old && old.child.exitCode === null && old.child.signalCode === null) throw new Error(`regtest: ${name} is running`);
    const start = Date.now();
    const node = this.nodes[name];
    node.cert = '';
    await this.spawnLnd(name);
    await this.waitLndReady(name);
    await this.waitSynced(name);
    await this.waitChannelsActive(name);
    this.timings[`restart ${name}`] = Date.now() - start;
    this.log(`${name} restarted in ${Date.now() - start} ms`);
    this.writeState();
  }

  close(): Promise<void> {
    return this.shutdown(LND_STOP_GRACE_MS);
  }

  async shutdown(lndGraceMs: number): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const start = Date.now();
    for (const n of NODE_NAMES) if (this.nodes[n]?.lnd) closeLnd(this.nodes[n].lnd);
    // LND first: it shuts down cleanly only while its chain backend still answers.
    await Promise.all([...this.lndProcs.values()].map((p) => stopProc(p, lndGraceMs)));
    if (this.btcdProc) await stopProc(this.btcdProc, BTCD_STOP_GRACE_MS);
    this.agent.destroy();
    process.removeListener('exit', this.onExit);
    this.watchdog?.kill('SIGKILL');
    if (!this.opts.keep) fs.rmSync(this.dir, { recursive: true, force: true });
    this.timings.close = Date.now() - start;
    this.log(`closed in ${this.timings.close} ms`);
  }

  // ---------------------------------------------------------------------------------------------------------------
  // Processes

  private spawnProc(name: string, bin: string, args: string[], home: string): Proc {
    const logFile = path.join(this.dir, 'logs', `${name}.log`);
    const fd = fs.openSync(logFile, 'a');
    fs.writeSync(fd, `\n=== ${new Date().toISOString()} ${bin} ${args.join(' ')}\n`);
    const child = spawn(bin, args, {
      stdio: ['ignore', fd, fd],
      // Neither btcd nor LND may touch the user's ~/.btcd or ~/.lnd.
      env: { ...process.env, HOME: home },
      detached: this.opts.detached ?? false,
    });
    fs.closeSync(fd);
    if (this.opts.detached) child.unref();
    if (child.pid) fs.appendFileSync(this.pidsFile, `${child.pid}\n`);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    child.once('error', (err) => this.log(`${name}: ${err.message}`));
    return { name, child, logFile, exited };
  }

  /** Best effort when this process exits with the network still up: no child outlives it. */
  private killAllNow(): void {
    for (const p of [...this.lndProcs.values(), this.btcdProc]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
  }

  /**
   * Polls `check` (errors count as "not yet") until it holds; fails at once when one of `procs` exits, and on
   * timeout, with the last error and the tail of the processes' logs.
   */
  private async waitFor(what: string, procs: Proc[], timeoutMs: number, check: () => Promise<boolean>, everyMs = 100): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    // A process's exit ends a pending check or pause at once (a call to a node that just died can take a while).
    const died = Promise.race(procs.map((p) => p.exited)).then(() => false);
    let last = '';
    for (;;) {
      if (this.closed) throw new Error(`regtest: closed while waiting for ${what}`);
      const dead = procs.find((p) => p.child.exitCode !== null || p.child.signalCode !== null);
      if (dead) {
        throw new Error(`regtest: ${dead.name} exited (${dead.child.exitCode ?? dead.child.signalCode}) while waiting for ${what}; ${dead.logFile}:\n${tail(dead.logFile)}`);
      }
      try {
        if (await Promise.race([check(), died])) return;
        last = '';
      } catch (err) {
        last = errText(err);
      }
      if (Date.now() > deadline) {
        const logs = procs.map((p) => `--- ${p.logFile}:\n${tail(p.logFile)}`).join('\n');
        throw new Error(`regtest: no ${what} within ${timeoutMs / 1000} s${last ? ` (last error: ${last})` : ''}\n${logs}`);
      }
      await Promise.race([sleep(everyMs), died]);
    }
  }

  private writeState(): void {
    const state: RegtestState = {
      version: 1,
      startedAt: new Date(this.t0).toISOString(),
      detached: this.opts.detached ?? false,
      btcd: {
        pid: this.btcd.pid,
        rpcHost: this.btcd.rpcHost,
        p2pHost: this.btcd.p2pHost,
        rpcUser: RPC_USER,
        rpcPass: RPC_PASS,
        rpcCertPath: this.btcd.rpcCertPath,
        args: this.btcdArgs,
      },
      nodes: Object.fromEntries(
        NODE_NAMES.map((n) => {
          const x = this.nodes[n];
          return [n, { pid: x.pid, grpcSocket: x.grpcSocket, p2pSocket: x.p2pSocket, certPath: x.certPath, macaroonPath: x.macaroonPath, pubkey: x.pubkey, dir: x.dir, args: this.lndArgs.get(n)! }];
        }),
      ) as RegtestState['nodes'],
    };
    fs.writeFileSync(path.join(this.dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n');
  }
}

// -----------------------------------------------------------------------------------------------------------------
// A network left running by `npm run regtest -- up` (another process): its state file, and stopping it by pid.

export function readRegtestState(dir: string): RegtestState | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(dir, STATE_FILE), 'utf8')) as RegtestState;
  } catch {
    return undefined;
  }
}

/** Whether `pid` is a live (not zombie) process whose command line mentions `dir` — so a reused pid is not ours. */
export function processAlive(pid: number | undefined, dir?: string): boolean {
  if (!pid) return false;
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/.test(stat)) return false;
    if (dir && !fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir)) return false;
  } catch {
    // No /proc (not Linux): kill(pid, 0) has to do.
  }
  return true;
}

/** Stops the processes of the state file in `dir` (LND first, then btcd) and removes `dir` unless `keep`. */
export async function stopRegtest(dir: string, opts: { keep?: boolean } = {}): Promise<{ stopped: string[] }> {
  const state = readRegtestState(dir);
  if (!state) throw new Error(`regtest: no ${STATE_FILE} in ${dir}`);
  const stopped: string[] = [];
  const stopPid = async (name: string, pid: number | undefined, graceMs: number) => {
    if (!processAlive(pid, dir)) return;
    process.kill(pid!, 'SIGTERM');
    const deadline = Date.now() + graceMs;
    while (processAlive(pid, dir) && Date.now() < deadline) await sleep(100);
    if (processAlive(pid, dir)) process.kill(pid!, 'SIGKILL');
    while (processAlive(pid, dir)) await sleep(50);
    stopped.push(name);
  };
  await Promise.all(NODE_NAMES.map((n) => stopPid(n, state.nodes[n]?.pid, LND_STOP_GRACE_MS)));
  await stopPid('btcd', state.btcd.pid, BTCD_STOP_GRACE_MS);
  if (!opts.keep) fs.rmSync(dir, { recursive: true, force: true });
  return { stopped };
}

// -----------------------------------------------------------------------------------------------------------------
// Helpers

/**
 * A JSON-RPC call to btcd (HTTPS with its self-signed certificate, pinned). A connection btcd drops before the TLS
 * handshake completes, or a kept-alive one it closed as the request went out (both seen with both cores busy), never
 * carried the request, so it is tried again — even `generate` and `sendrawtransaction` cannot run twice that way.
 */
export async function btcdRpc<T>(
  c: { rpcHost: string; rpcCertPath: string; rpcUser: string; rpcPass: string },
  method: string,
  params: unknown[] = [],
  agent?: https.Agent,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await btcdRpcOnce<T>(c, method, params, agent);
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      // Or a kept-alive connection btcd had just closed when the request went out on it ("socket hang up" on a reused
      // socket, the case Node's documentation says to retry): btcd never read that request either.
      const staleSocket = (err as { reusedSocket?: boolean }).reusedSocket === true && e.code === 'ECONNRESET';
      const notSent = /before secure TLS connection was established/.test(e.message) || e.code === 'ECONNREFUSED' || staleSocket;
      if (!notSent || attempt >= 5) throw err;
      await sleep(200 * attempt);
    }
  }
}

function btcdRpcOnce<T>(
  c: { rpcHost: string; rpcCertPath: string; rpcUser: string; rpcPass: string },
  method: string,
  params: unknown[],
  agent?: https.Agent,
): Promise<T> {
  const body = JSON.stringify({ jsonrpc: '1.0', id: 1, method, params });
  const [host, port] = c.rpcHost.split(':');
  return new Promise<T>((resolve, reject) => {
    const req = https.request(
      {
        host,
        port: Number(port),
        method: 'POST',
        path: '/',
        agent,
        auth: `${c.rpcUser}:${c.rpcPass}`,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        // btcd's own self-signed certificate, pinned; the names in it do not matter.
        ca: fs.readFileSync(c.rpcCertPath),
        checkServerIdentity: () => undefined,
      },
      (res) => {
        let data = '';
        res.on('data', (d: Buffer) => (data += d.toString()));
        res.on('end', () => {
          try {
            const r = JSON.parse(data) as { result: T; error: { code: number; message: string } | null };
            if (r.error) reject(new Error(`btcd ${method}: ${r.error.message} (${r.error.code})`));
            else resolve(r.result);
          } catch {
            reject(new Error(`btcd ${method}: HTTP ${res.statusCode} ${data.slice(0, 200)}`));
          }
        });
      },
    );
    req.on('error', (err) => reject(Object.assign(err, { reusedSocket: req.reusedSocket })));
    req.end(body);
  });
}

async function stopProc(p: Proc, graceMs: number): Promise<void> {
  if (p.child.exitCode !== null || p.child.signalCode !== null) return;
  p.child.kill('SIGTERM');
  const timedOut = await Promise.race([p.exited.then(() => false), sleep(graceMs).then(() => true)]);
  if (timedOut) {
    p.child.kill('SIGKILL');
    await p.exited;
  }
}

/** `lightning`'s client is a set of gRPC clients (one per LND service); each holds a channel open. */
function closeLnd(lnd: ln.AuthenticatedLnd | undefined): void {
  for (const c of Object.values(lnd ?? {})) {
    if (c && typeof (c as { close?: unknown }).close === 'function') (c as { close(): void }).close();
  }
}

function tail(file: string, lines = 40): string {
  try {
    return fs.readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** `lightning` rejects with `[code, message, {err}]`. */
function errText(err: unknown): string {
  if (Array.isArray(err)) {
    const details = (err[2] as { err?: { details?: string } } | undefined)?.err?.details;
    return `${err[0]} ${err[1]}${details ? `: ${details}` : ''}`;
  }
  return (err as Error)?.message ?? String(err);
}

/** The output script of a regtest segwit address (bcrt1…, version 0 or 1). */
function scriptOf(address: string): Buffer {
  const a = address as `${string}1${string}`;
  const { prefix, words } = address.startsWith('bcrt1p') ? bech32m.decode(a) : bech32.decode(a);
  if (prefix !== 'bcrt') throw new Error(`regtest: ${address} is not a regtest address`);
  const version = words[0]!;
  const program = Buffer.from(bech32.fromWords(words.slice(1)));
  return Buffer.concat([Buffer.from([version === 0 ? 0x00 : 0x50 + version, program.length]), program]);
}

/** A version-2 segwit transaction spending one P2WSH(OP_TRUE) output (witness: the script alone). */
function opTrueSpend(txid: string, vout: number, outputs: { script: Buffer; sats: number }[]): Buffer {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const u64 = (n: number) => {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(BigInt(n));
    return b;
  };
  const varint = (n: number) => {
    if (n < 0xfd) return Buffer.from([n]);
    const b = Buffer.alloc(3);
    b.writeUInt8(0xfd);
    b.writeUInt16LE(n, 1);
    return b;
  };
  return Buffer.concat([
    u32(2),
    Buffer.from([0x00, 0x01]), // segwit marker and flag
    varint(1),
    Buffer.from(txid, 'hex').reverse(),
    u32(vout),
    varint(0), // empty scriptSig
    u32(0xffffffff),
    varint(outputs.length),
    ...outputs.flatMap((o) => [u64(o.sats), varint(o.script.length), o.script]),
    varint(1), // one witness item: the witness script
    varint(OP_TRUE.length),
    OP_TRUE,
    u32(0), // locktime
  ]);
}
