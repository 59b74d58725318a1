/**
 * Prometheus metrics of the daemon (prom-client's default registry, one per process) and the HTTP endpoint that serves
 * them: `GET /metrics` (text exposition) and `GET /healthz` (200 when every registered check passes, else 503, with
 * the checks as JSON).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import client from 'prom-client';

export const metrics = {
  messagesIn: new client.Counter({ name: 'mostro_messages_in_total', help: 'Messages accepted by the intake pipeline, by action', labelNames: ['action'] }),
  messagesOut: new client.Counter({ name: 'mostro_messages_out_total', help: 'Messages sent to traders, by action', labelNames: ['action'] }),
  handling: new client.Histogram({
    name: 'mostro_ingress_handling_seconds',
    help: 'From a request event reaching the ingress to its hand-over to the order workflow (or its direct answer), by action',
    labelNames: ['action'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
  }),
  replyLatency: new client.Histogram({
    name: 'mostro_reply_latency_seconds',
    help: 'From a request event reaching the ingress to the first reply of the order workflow being published, by the reply action',
    labelNames: ['action'],
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  }),
  lndErrors: new client.Counter({ name: 'mostro_lnd_errors_total', help: 'Failed LND calls, by operation', labelNames: ['operation'] }),
  payouts: new client.Counter({ name: 'mostro_payouts_total', help: 'Payment attempts by the daemon, by purpose kind and outcome', labelNames: ['purpose', 'outcome'] }),
};

/** Counters read from a component at scrape time (the intake's drop counters live there). */
export function gaugeFrom(name: string, help: string, labelName: string, read: () => Record<string, number>): void {
  // A second daemon in the same process (tests, a restart in place) reads from its own component.
  client.register.removeSingleMetric(name);
  new client.Gauge({
    name,
    help,
    labelNames: [labelName],
    collect() {
      for (const [label, value] of Object.entries(read())) this.set({ [labelName]: label }, value);
    },
  });
}

let defaultsCollected = false;

export type HealthCheck = () => Promise<boolean> | boolean;

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/** Serves /metrics and /healthz on `listen` ("host:port"). */
export async function startMetricsServer(listen: string, checks: Record<string, HealthCheck>): Promise<MetricsServer> {
  if (!defaultsCollected) {
    client.collectDefaultMetrics({ prefix: 'mostro_process_' });
    defaultsCollected = true;
  }
  const [host, port] = [listen.slice(0, listen.lastIndexOf(':')), Number(listen.slice(listen.lastIndexOf(':') + 1))];
  const server = http.createServer((req, res) => {
    void (async () => {
      if (req.url === '/metrics') {
        res.writeHead(200, { 'content-type': client.register.contentType });
        res.end(await client.register.metrics());
      } else if (req.url === '/healthz') {
        const results = Object.fromEntries(
          await Promise.all(Object.entries(checks).map(async ([k, c]) => [k, await Promise.resolve().then(c).catch(() => false)] as const)),
        );
        const ok = Object.values(results).every(Boolean);
        res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: ok ? 'ok' : 'unhealthy', checks: results }));
      } else {
        res.writeHead(404).end();
      }
    })().catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, resolve);
  });
  const a = server.address() as AddressInfo;
  return {
    url: `http://${a.address}:${a.port}`,
    close: () => new Promise((r) => server.close(() => r())),
  };
}
