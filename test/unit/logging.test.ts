/** Logs are JSON lines carrying the ids they are about, and never a secret. */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { generateSecretKey } from 'nostr-tools/pure';
import { nip19 } from 'nostr-tools';
import { createLogger, temporalLogger } from '../../src/logging.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(l) as Record<string, unknown>);
      cb();
    },
  });
  return { lines, stream };
}

describe('daemon logs', () => {
  it('writes one JSON object per record with the component and the ids given', () => {
    const { lines, stream } = capture();
    const log = createLogger('info', stream).child({ component: 'ingress' });
    log.info('routed', { orderId: 'o-1', workflowId: 'order-o-1', eventId: 'e'.repeat(64) });
    log.debug('not at info level');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 30, component: 'ingress', msg: 'routed', orderId: 'o-1', workflowId: 'order-o-1', eventId: 'e'.repeat(64) });
    expect(typeof lines[0]!.time).toBe('string');
  });

  it('redacts secrets by field name and by shape, however deep they are passed', () => {
    const { lines, stream } = capture();
    const nsec = nip19.nsecEncode(generateSecretKey());
    const log = createLogger('info', stream);
    log.warn('oops', {
      preimage: 'a'.repeat(64),
      macaroon: '0201036c6e64',
      nested: { config: { nsec_privkey: nsec }, note: `key ${nsec}` },
      leaked: nsec,
      db: 'postgresql://mostro:hunter2@db.internal:5432/mostro',
      hash: 'b'.repeat(64),
    });
    log.error(`could not parse ${nsec}`);
    const text = JSON.stringify(lines);
    expect(text).not.toContain(nsec);
    expect(text).not.toContain('a'.repeat(64));
    expect(text).not.toContain('0201036c6e64');
    expect(text).not.toContain('hunter2');
    expect(lines[0]).toMatchObject({ preimage: '[redacted]', macaroon: '[redacted]', leaked: '[redacted]', db: 'postgresql://[credentials]@db.internal:5432/mostro', hash: 'b'.repeat(64) });
    expect(lines[1]!.msg).toBe('could not parse [redacted]');
  });

  it("carries the Temporal SDK's records (workflow logs with their ids) above the chosen level", () => {
    const { lines, stream } = capture();
    const sdk = temporalLogger(createLogger('debug', stream).child({ component: 'temporal-sdk' }), 'INFO');
    sdk.info('support request', { sdkComponent: 'workflow', workflowId: 'order-o-1', runId: 'r-1', orderId: 'o-1', attempt: 1n });
    sdk.debug('noise', { sdkComponent: 'worker' });
    sdk.log('ERROR', 'activity failed', { activityType: 'payInvoice', workflowId: 'order-o-1' });
    expect(lines.map((l) => [l.level, l.msg])).toEqual([
      [30, 'support request'],
      [50, 'activity failed'],
    ]);
    expect(lines[0]).toMatchObject({ component: 'temporal-sdk', workflowId: 'order-o-1', runId: 'r-1', orderId: 'o-1', attempt: '1' });
  });
});
