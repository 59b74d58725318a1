/**
 * The daemon runs on real LND with a macaroon baked for exactly the RPCs it calls (src/lightning/permissions.ts,
 * docs/production.md), not the admin macaroon: `lncli bakemacaroon` with those URIs, then every Lightning activity,
 * the invoice watcher and the start-up probe through it. A macaroon lacking one of them is refused by LND, and the
 * probe names the setting to fix.
 */
import { execFileSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import * as ln from 'lightning';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLightningActivities, type LightningActivities } from '../../src/activities/lightning.js';
import { ConfigError, loadSettings } from '../../src/config/settings.js';
import { lndCredentialsOf, probeLnd } from '../../src/daemon/lnd.js';
import { openDatabase, type Database } from '../../src/db/database.js';
import { InvoiceWatcher, type HoldInvoiceSignalGateway } from '../../src/ingress/lightning.js';
import { LND_RPC_URIS } from '../../src/lightning/permissions.js';
import type { Logger } from '../../src/log.js';
import { tool } from '../../src/tools.js';
import type { HoldInvoiceUpdate } from '../../src/workflows/shared/hold-invoice.js';
import { LABS } from '../helpers/lightning-lab.js';
import type { RegtestNetwork } from '../../support/regtest.js';
import { startRegtestLab } from '../helpers/lightning-lab.js';

const regtest = LABS.find((l) => l.name === 'regtest')!;
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

describe.skipIf(regtest.skip)('a macaroon baked for the RPCs the daemon calls (real LND)', () => {
  let lab: Awaited<ReturnType<typeof startRegtestLab>>;
  let net: RegtestNetwork;
  let db: Database;

  beforeAll(async () => {
    lab = await startRegtestLab();
    net = lab.regtest;
    db = await openDatabase({ memory: true });
  }, 300_000);
  afterAll(async () => {
    await lab?.close();
    await db?.close();
  }, 120_000);

  /** `lncli bakemacaroon` on the daemon's node with these URIs; the macaroon file's path. */
  function bake(uris: readonly string[], file: string): string {
    const node = net.nodes.mostro;
    const out = path.join(net.dir, file);
    execFileSync(
      tool('lncli').binary,
      [`--rpcserver=${node.grpcSocket}`, `--tlscertpath=${node.certPath}`, `--macaroonpath=${node.macaroonPath}`, '--network=regtest', 'bakemacaroon', '--save_to', out, ...uris.map((u) => `uri:${u}`)],
      { stdio: 'pipe' },
    );
    return out;
  }

  /** The operator's settings.toml `[lightning]` section pointing at the node with this macaroon. */
  function settingsWith(macaroonFile: string) {
    const toml = path.join(net.dir, `${path.basename(macaroonFile)}.settings.toml`);
    const m = net.nodes.mostro;
    fs.writeFileSync(toml, `[lightning]\nlnd_grpc_host = "https://${m.grpcSocket}"\nlnd_cert_file = "${m.certPath}"\nlnd_macaroon_file = "${macaroonFile}"\n`);
    return loadSettings(toml, {});
  }

  function activitiesWith(macaroonFile: string): { acts: LightningActivities; lnd: ln.AuthenticatedLnd } {
    const lnd = ln.authenticatedLndGrpc(lndCredentialsOf(settingsWith(macaroonFile).lightning)!).lnd;
    return { lnd, acts: createLightningActivities({ lnd, db: db.prisma, preimageSecret: crypto.randomBytes(32), settings: lab.settings }) };
  }

  it('runs everything the daemon does on LND: probe, hold invoices, the watcher, payouts in flight and done', async () => {
    const file = bake(LND_RPC_URIS, 'mostro.macaroon');
    const { acts, lnd } = activitiesWith(file);
    await probeLnd(lnd, settingsWith(file));
    expect(await acts.getNodeInfo()).toMatchObject({ network: 'regtest', pubkey: net.nodes.mostro.pubkey });

    // An escrow: created, followed by the watcher, paid by the seller, settled.
    const signals: HoldInvoiceUpdate[] = [];
    const gateway: HoldInvoiceSignalGateway = { signal: async (_w, u) => signals.push(u) > 0, expiring: async () => true };
    const watcher = new InvoiceWatcher({ lnd, db: db.prisma, gateway, log: quiet, pollMs: 100, retryMs: 100, expiryMarginBlocks: 24, heightPollMs: 200 });
    await watcher.start();
    try {
      const escrow = await acts.createHoldInvoice({ key: 'perm-1', amountSats: 20_000, memo: 'escrow', workflowId: 'order-perm-1' });
      await lab.pay('seller', escrow.request);
      await expect.poll(() => signals.map((s) => s.state), { timeout: 30_000 }).toEqual(['accepted']);
      expect(await acts.lookupInvoice({ hash: escrow.hash })).toMatchObject({ state: 'held' });
      await acts.settleHoldInvoice({ key: 'perm-1' });
      await expect.poll(() => signals.map((s) => s.state), { timeout: 30_000 }).toEqual(['accepted', 'settled']);
    } finally {
      await watcher.stop();
    }
    const refund = await acts.createHoldInvoice({ key: 'perm-2', amountSats: 1_000, memo: 'bond' });
    await lab.pay('seller', refund.request);
    await expect.poll(async () => (await acts.lookupInvoice({ hash: refund.hash })).state, { timeout: 30_000 }).toBe('held');
    await acts.cancelHoldInvoice({ hash: refund.hash });

    // Payouts: validated, paid, and one held by the payee followed to its end.
    const payout = await lab.invoice('buyer', 19_940, { expirySecs: 7200 });
    expect(await acts.validateInvoice({ request: payout.request, amountSats: 20_000, feeSats: 60 })).toMatchObject({ valid: true });
    expect(await acts.payInvoice({ purpose: 'payout:perm-1:0', request: payout.request, amountSats: 19_940 })).toMatchObject({ status: 'succeeded' });
    const held = await lab.heldInvoice('buyer', 500);
    expect((await acts.payInvoice({ purpose: 'payout:perm-3:0', request: held.request, amountSats: 500 })).status).toBe('in-flight');
    const tracking = acts.trackPayment({ hash: held.hash });
    await held.settle();
    expect(await tracking).toEqual({ status: 'succeeded' });
    // A bond payout's invoice of the node itself, decoded.
    const own = await acts.createInvoice({ amountSats: 700, memo: 'bond share' });
    expect(await acts.decodeInvoice({ request: own.request })).toMatchObject({ amountSats: 700 });
  }, 180_000);

  it('is refused by LND without one of them, and the start-up probe names the setting', async () => {
    const file = bake(
      LND_RPC_URIS.filter((u) => u !== '/lnrpc.Lightning/GetInfo'),
      'no-getinfo.macaroon',
    );
    const { acts, lnd } = activitiesWith(file);
    await expect(acts.getNodeInfo()).rejects.toThrow(/getNodeInfo: LND/);
    const refused = await probeLnd(lnd, settingsWith(file)).then(
      () => null,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(ConfigError);
    expect(String((refused as Error).message)).toMatch(/lnd_macaroon_file.*refused the macaroon.*permission denied/s);
    fs.rmSync(file);
  }, 60_000);
});
