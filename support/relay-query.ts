/**
 * What a relay has stored for a filter, read to its end: one REQ, every EVENT until the relay's EOSE. (A fixed listening
 * window is not enough on a busy machine: the relay's answer may come later than any window one picks.)
 */
import WebSocket from 'ws';
import type { NostrEvent } from '@mostro/protocol';

export function storedEvents(relayUrl: string, filter: Record<string, unknown>, timeoutMs = 15_000): Promise<NostrEvent[]> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(relayUrl);
    const events: NostrEvent[] = [];
    const timer = setTimeout(() => {
      ws.terminate();
      reject(new Error(`${relayUrl}: no EOSE for ${JSON.stringify(filter)} within ${timeoutMs} ms`));
    }, timeoutMs);
    ws.on('open', () => ws.send(JSON.stringify(['REQ', 'q', filter])));
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as [string, string, NostrEvent?];
      if (msg[0] === 'EVENT' && msg[1] === 'q') events.push(msg[2]!);
      if (msg[0] === 'EOSE' && msg[1] === 'q') {
        clearTimeout(timer);
        ws.close();
        resolve(events);
      }
    });
    ws.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
