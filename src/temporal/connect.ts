/** Connections to the Temporal frontend (embedded or a cluster: mTLS, API key) and the namespace's search attributes. */
import fs from 'node:fs';
import { Connection, type ConnectionOptions } from '@temporalio/client';
import { NativeConnection, type NativeConnectionOptions } from '@temporalio/worker';
import type { SaType } from '@mostro/temporal-devserver';

export interface TemporalTarget {
  address: string;
  namespace: string;
  taskQueue: string;
  /** The embedded server on loopback: no TLS, and no gzip (pointless CPU on loopback). */
  embedded: boolean;
  tls?: { certFile: string; keyFile: string; caFile?: string; serverName?: string };
  apiKey?: string;
  /** `[temporal] grpc_compression`: gzip (the SDK's default) or none. */
  compression?: 'gzip' | 'none';
}

function tlsOf(t: TemporalTarget) {
  if (!t.tls) return t.apiKey ? true : undefined; // an API key needs TLS (Temporal Cloud)
  return {
    serverNameOverride: t.tls.serverName,
    serverRootCACertificate: t.tls.caFile ? fs.readFileSync(t.tls.caFile) : undefined,
    clientCertPair: { crt: fs.readFileSync(t.tls.certFile), key: fs.readFileSync(t.tls.keyFile) },
  };
}

export function connectNative(t: TemporalTarget): Promise<NativeConnection> {
  const o: NativeConnectionOptions = { address: t.address, tls: tlsOf(t), apiKey: t.apiKey };
  if (t.embedded || t.compression === 'none') o.grpcCompression = { codec: 'none' };
  return NativeConnection.connect(o);
}

export function connectClient(t: TemporalTarget): Promise<Connection> {
  const o: ConnectionOptions = { address: t.address, tls: tlsOf(t), apiKey: t.apiKey };
  return Connection.connect(o);
}

const SA_ENUM: Record<SaType, number> = { Text: 1, Keyword: 2, Int: 3, Double: 4, Bool: 5, Datetime: 6, KeywordList: 7 };

/** Registers the custom search attributes the namespace lacks (idempotent; an existing one is left as it is). */
export async function registerSearchAttributes(connection: Connection, namespace: string, attrs: Record<string, SaType>): Promise<string[]> {
  const existing = await connection.operatorService.listSearchAttributes({ namespace });
  const missing = Object.entries(attrs).filter(([k]) => !existing.customAttributes?.[k]);
  if (missing.length === 0) return [];
  await connection.operatorService.addSearchAttributes({
    namespace,
    searchAttributes: Object.fromEntries(missing.map(([k, t]) => [k, SA_ENUM[t]])),
  });
  return missing.map(([k]) => k);
}
