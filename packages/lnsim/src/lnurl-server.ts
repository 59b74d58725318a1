/**
 * Lightning Addresses for the simulated wallets: `<node>@127.0.0.1:<port>` answers LNURL-pay (LUD-06/16, LUD-12
 * comments) with invoices from that node of the simulated network. For development and tests only; the daemon
 * reaches it only when private hosts and plain HTTP are explicitly allowed.
 */
import crypto from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { SimNetwork } from './network.js';

export interface LnurlServer {
  /** `http://127.0.0.1:<port>` */
  origin: string;
  /** `<node>@127.0.0.1:<port>` */
  addressOf(node: string): string;
  /** Every request path with its query, in order. */
  requests: string[];
  close(): Promise<void>;
}

export interface LnurlServerOptions {
  port?: number;
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  minSendableMsat?: number;
  maxSendableMsat?: number;
  commentAllowed?: number;
}

export async function startLnurlServer(net: SimNetwork, opts: LnurlServerOptions = {}): Promise<LnurlServer> {
  const requests: string[] = [];
  const json = (res: http.ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };
  const server = http.createServer((req, res) => {
    requests.push(req.url ?? '');
    const url = new URL(req.url ?? '/', origin);
    const wellKnown = /^\/\.well-known\/lnurlp\/([^/]+)$/.exec(url.pathname);
    const callback = /^\/lnurlp\/callback\/([^/]+)$/.exec(url.pathname);
    const user = decodeURIComponent((wellKnown ?? callback)?.[1] ?? '');
    if (!user || !net.nodes.has(user)) return json(res, 404, { status: 'ERROR', reason: 'unknown user' });
    const metadata = JSON.stringify([['text/plain', `Pay ${user} on the simulated network`]]);
    if (wellKnown) {
      return json(res, 200, {
        tag: 'payRequest',
        // A query already on the callback, as real services (LNbits) do: amount must be appended, not concatenated.
        callback: `${origin}/lnurlp/callback/${encodeURIComponent(user)}?wallet=${encodeURIComponent(user)}`,
        minSendable: opts.minSendableMsat ?? 1000,
        maxSendable: opts.maxSendableMsat ?? 100_000_000_000,
        metadata,
        commentAllowed: opts.commentAllowed ?? 0,
      });
    }
    const msat = Number(url.searchParams.get('amount'));
    if (!Number.isSafeInteger(msat) || msat <= 0 || msat % 1000 !== 0) {
      return json(res, 200, { status: 'ERROR', reason: 'amount must be whole sats in msat' });
    }
    // LUD-06: the invoice commits to the metadata by hash.
    const descriptionHash = crypto.createHash('sha256').update(metadata, 'utf8').digest('hex');
    const inv = net.createInvoice({ node: user, valueSats: msat / 1000, descriptionHash });
    // Handed out only once the invoice is on disk (when the network keeps a journal).
    net.durable().then(
      () => json(res, 200, { pr: inv.request, routes: [] }),
      (err: unknown) => json(res, 500, { status: 'ERROR', reason: (err as Error).message }),
    );
  });
  await new Promise<void>((resolve) => server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const origin = `http://127.0.0.1:${port}`;
  return {
    origin,
    addressOf: (node) => `${node}@127.0.0.1:${port}`,
    requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
