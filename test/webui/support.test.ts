/**
 * Support staff in the real Temporal Web UI, in a real browser (headless Chromium): a trade whose payout failed is
 * found by the daemon's search attributes, opened, read through the `getOrder` and `getBonds` queries, and repaired
 * with the `support` signal (`retry-payout`) as docs/support.md documents it — then the trade completes.
 *
 * Runs in both projects: `embedded` (the ui-server of scripts/tools.sh pointed at the embedded server) and
 * `real-temporal` (the Web UI of `temporal server start-dev`). `npm run docs:screenshots` writes each step's
 * screenshot to docs/screenshots/webui-<server>/ (docs/support.md shows them); otherwise they go to a temp dir.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWebUi, type RunningWebUi } from '../../src/temporal/web-ui.js';
import { installHint, tool } from '../../src/tools.js';
import { browserMissing, launchChromium } from '../helpers/browser.js';
import { TestDaemon, fiatSentTrade, waitFor } from '../helpers/daemon.js';
import { realServerAddress, uid } from '../helpers/temporal.js';
import * as testActivities from '../devserver/activities.js';

const testWorkflowsPath = fileURLToPath(new URL('../devserver/workflows/index.ts', import.meta.url));

const server = realServerAddress ? 'real' : 'embedded';
const uiServer = tool('temporal-ui-server');
// The embedded server needs the ui-server binary; the real one brings its own UI.
const uiMissing = server === 'embedded' && !uiServer.installed ? installHint(uiServer) : undefined;
if (uiMissing && process.env.CI === 'true') throw new Error(`CI: ${uiMissing}`);
const skip = browserMissing() ?? uiMissing;
if (skip) console.warn(`Web UI browser test skipped: ${skip}`);

const shots = process.env.UPDATE_SCREENSHOTS
  ? path.resolve(`docs/screenshots/webui-${server}`)
  : fs.mkdtempSync(path.join(os.tmpdir(), 'mostro-webui-'));

describe.skipIf(skip)(`support staff repair a failed payout in the Temporal Web UI (${server} server)`, () => {
  let d: TestDaemon;
  let ui: RunningWebUi | undefined;
  let uiUrl: string;
  let browser: Browser;
  let page: Page;
  const failedCalls: string[] = [];
  /** What the pages asked the server, as `METHOD /api/v1/…` with ids left out. */
  const calls = new Set<string>();

  beforeAll(async () => {
    // Two attempts 5 s apart, then the buyer is asked for a new invoice and the trade needs a person.
    d = await TestDaemon.start({ settings: { paymentAttempts: 2, paymentRetriesInterval: 5 } });
    if (server === 'embedded') {
      ui = await startWebUi({ temporalAddress: d.env.address, namespace: d.env.namespace });
      uiUrl = ui.url;
    } else {
      uiUrl = process.env.TEMPORAL_UI_URL!;
    }
    browser = await launchChromium();
    page = await browser.newPage({ viewport: { width: 1400, height: 900 } });
    fs.mkdirSync(shots, { recursive: true });
    // Every call the UI makes to the server must succeed: a failing one is a gap in the server (or a UI bug to know).
    page.on('response', (r) => {
      if (!r.url().includes('/api/')) return;
      const route = new URL(r.url()).pathname.replace(/(\/workflows|\/runs|\/task-queues|\/signal|\/query)\/[^/]+/g, '$1/:id');
      calls.add(`${r.request().method()} ${route}`);
      if (r.status() >= 400) failedCalls.push(`${r.status()} ${r.request().method()} ${new URL(r.url()).pathname}`);
    });
  }, 120_000);

  afterAll(async () => {
    await browser?.close();
    await ui?.stop();
    await d?.close();
  });

  const shot = (name: string) => page.screenshot({ path: path.join(shots, `${name}.png`) });
  const ns = () => encodeURIComponent(d.env.namespace);

  it('finds the trade by MostroNeedsAttention, reads getOrder and getBonds, sends support retry-payout: the buyer is paid once', async () => {
    const seller = d.trader('ui-seller');
    const buyer = d.trader('ui-buyer');
    const { id, invoice } = await fiatSentTrade(d, seller, buyer, 12_000);
    d.net.failNextPayment();
    await seller.send(1, { action: 'release', id, tradeIndex: null });
    await waitFor('the first payout attempt', () => d.net.payments.get(invoice.hash)?.status === 'FAILED');
    d.net.failNextPayment(); // the retry fails too
    await buyer.next(1, 'add-invoice');
    const workflowId = `order-${id}`;
    await waitFor('MostroNeedsAttention', async () => {
      const desc = await d.env.client.workflow.getHandle(workflowId).describe();
      return desc.searchAttributes.MostroNeedsAttention?.[0] === true;
    });

    // 1. The list, filtered by the daemon's search attributes.
    const query = 'MostroNeedsAttention = true AND MostroOrderStatus = "settled-hold-invoice"';
    await expectEventually(async () => {
      await page.goto(`${uiUrl}/namespaces/${ns()}/workflows?query=${encodeURIComponent(query)}`);
      await page.getByRole('link', { name: workflowId }).first().waitFor({ timeout: 5000 });
    });
    await shot('01-needs-attention');

    // 2. The trade's workflow page.
    await page.getByRole('link', { name: workflowId }).first().click();
    await page.waitForURL(/\/history/);
    await page.getByText('orderWorkflow').first().waitFor();
    // The page asks the server who polls the trade's task queue: the daemon's worker does.
    // The Workers tab counts them once the server has answered (0 there, and the "No Workers Running" banner, before).
    await page.getByRole('tab', { name: /^Workers\s*[1-9]/ }).locator('visible=true').first().waitFor();
    expect(await page.getByText('No Workers Running').count()).toBe(0);
    await shot('02-workflow');

    // 3. Queries: getOrder shows the settled escrow and the failed payout; getBonds answers (no bonds on this trade).
    await page.getByText('Queries', { exact: true }).first().click();
    await runQuery(page, 'getOrder');
    await page.getByText('"settled-hold-invoice"').first().waitFor();
    await shot('03-query-getOrder');
    await runQuery(page, 'getBonds');
    await shot('04-query-getBonds');

    // 4. The repair: the `support` signal with retry-payout, as docs/support.md says.
    await openSignalDialog(page);
    await fillSignal(page, 'support', { action: 'retry-payout', operator: 'webui-test', reason: 'node liquidity fixed' });
    await shot('05-signal-support');
    const signaled = page.waitForResponse((r) => r.request().method() === 'POST' && /\/signal\/support$/.test(new URL(r.url()).pathname));
    await page.getByTestId('confirm-modal-button').locator('visible=true').click();
    expect((await signaled).status()).toBe(200);

    // The payout is retried with the invoice the buyer gave, once, and the trade completes.
    await buyer.next(1, 'purchase-completed');
    await d.waitForStatus(id, 'success');
    expect(d.net.payments.get(invoice.hash)).toMatchObject({ status: 'SUCCEEDED', valueSats: invoice.valueSats });
    const payouts = [...d.net.payments.values()].filter((p) => p.hash === invoice.hash && p.status === 'SUCCEEDED');
    expect(payouts).toHaveLength(1);

    // The history shows the repair with its operator and reason; the trade no longer needs attention.
    const desc = await d.env.client.workflow.getHandle(workflowId).describe();
    await page.goto(`${uiUrl}/namespaces/${ns()}/workflows/${workflowId}/${desc.runId}/history`);
    // Newest first: the support signal, opened to show who asked and why.
    const signal = page.getByText('support', { exact: true }).locator('visible=true').first();
    const reason = page.getByText(/webui-test/).locator('visible=true').first();
    // On a busy machine a click can land while the page is still wiring its handlers: click again only while the
    // event is still closed (a second click on an open one would close it).
    await expectEventually(async () => {
      if (!(await reason.isVisible())) await signal.click();
      await reason.waitFor({ timeout: 10_000 });
    }, 60_000);
    await reason.scrollIntoViewIfNeeded();
    await shot('06-after-repair');
    expect(desc.searchAttributes.MostroNeedsAttention).toEqual([false]);
    expect(failedCalls).toEqual([]);
  }, 180_000);

  it('requests cancellation and terminates from the workflow page; every call the pages made succeeded', async () => {
    const taskQueue = uid('ui-wf');
    const worker = await d.env.worker({ taskQueue, workflowsPath: testWorkflowsPath, activities: testActivities });
    await worker.runUntil(async () => {
      const toCancel = await d.env.plainClient.workflow.start('collectSignals', { taskQueue, workflowId: uid('ui-cancel') });
      const toTerminate = await d.env.plainClient.workflow.start('collectSignals', { taskQueue, workflowId: uid('ui-terminate') });

      await page.goto(`${uiUrl}/namespaces/${ns()}/workflows/${toCancel.workflowId}/${toCancel.firstExecutionRunId}/history`);
      await page.getByRole('button', { name: 'Request Cancellation' }).locator('visible=true').first().click();
      await page.getByTestId('confirm-modal-button').locator('visible=true').first().click();
      await expect(toCancel.result()).rejects.toThrow(/cancel/i);

      await page.goto(`${uiUrl}/namespaces/${ns()}/workflows/${toTerminate.workflowId}/${toTerminate.firstExecutionRunId}/history`);
      await page.getByRole('button', { name: 'More Actions' }).locator('visible=true').first().click();
      await page.getByTestId('terminate-button').locator('visible=true').first().click();
      const modal = page.getByRole('dialog').locator('visible=true').first();
      await modal.locator('input, textarea').first().fill('junk order, operator webui-test');
      await page.getByTestId('confirm-modal-button').locator('visible=true').first().click();
      await expect(toTerminate.result()).rejects.toThrow(/terminat/i);
      expect((await toTerminate.describe()).status.name).toBe('TERMINATED');
    });
    // The pages support staff use, each answered: list and count with a query, describe, history (both
    // directions), query, signal, cancel, terminate, namespaces, system info, search attributes.
    const api = `/api/v1/namespaces/${d.env.namespace}`;
    expect([...calls]).toEqual(
      expect.arrayContaining([
        'GET /api/v1/namespaces',
        'GET /api/v1/system-info',
        `GET ${api}/search-attributes`,
        `GET ${api}/workflows`,
        `GET ${api}/workflow-count`,
        `GET ${api}/workflows/:id`,
        `GET ${api}/workflows/:id/history`,
        `GET ${api}/task-queues/:id`,
        `POST ${api}/workflows/:id/query/:id`,
        `POST ${api}/workflows/:id/signal/:id`,
        `POST ${api}/workflows/:id/cancel`,
        `POST ${api}/workflows/:id/terminate`,
      ]),
    );
    expect(failedCalls).toEqual([]);
  }, 180_000);
});

async function expectEventually(fn: () => Promise<void>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > deadline) throw err;
    }
  }
}

/** Queries tab: picks the query (the list comes from the workflow's own metadata query) and runs it. */
async function runQuery(page: Page, name: string): Promise<void> {
  await page.getByTestId('query-select-button').click();
  await page.getByRole('option', { name }).click();
  await page.getByRole('button', { name: 'Run Query' }).click();
}

/** ⋯ More Actions → Send a Signal: the dialog lists the signals the workflow defines (its metadata query). */
async function openSignalDialog(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'More Actions' }).click();
  await page.getByTestId('signal-button').locator('visible=true').first().click();
}

async function fillSignal(page: Page, name: string, input: unknown): Promise<void> {
  // The page renders its header twice (wide and narrow layouts): act on the visible copy.
  const modal = page.getByTestId('signal-confirmation-modal').locator('visible=true');
  await modal.getByTestId('signal-select-button').click();
  await modal.getByRole('option', { name, exact: true }).click();
  await modal.locator('.cm-content[contenteditable=true]').click();
  await page.keyboard.insertText(JSON.stringify(input));
  // The editor reformats its JSON when it loses focus; submit after that, or the click only blurs it.
  await modal.getByText('json/plain').click();
  await modal.getByText('"action": "retry-payout"').waitFor().catch(() => undefined);
}
