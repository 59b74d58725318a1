/**
 * The wrapper key and inner MessageKind of a message. Kept apart from the zod schemas so code that only builds or
 * reads already-validated messages (the order workflow's sandbox) does not load them.
 */
import type { Message, MessageKind, MessageWrapper } from './schema.js';

export function unwrapKind(msg: Message): { wrapper: MessageWrapper; kind: MessageKind } {
  const wrapper = Object.keys(msg)[0] as MessageWrapper;
  return { wrapper, kind: (msg as Record<string, MessageKind>)[wrapper]! };
}
