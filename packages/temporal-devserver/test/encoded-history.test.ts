/**
 * A response whose history events stay encoded decodes, on the client's side, to exactly what the same response
 * encoded the ordinary way decodes to — for every method whose response carries a history.
 */
import type * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { withEncodedHistory } from '../src/encoded-history.js';
import { EncodedEvents, History } from '../src/history.js';
import { loadServices } from '../src/protos.js';
import type { Msg } from '../src/proto-util.js';

const events: Msg[] = [
  {
    eventId: 1,
    eventTime: { seconds: 1_700_000_000, nanos: 5 },
    eventType: 'EVENT_TYPE_WORKFLOW_EXECUTION_STARTED',
    taskId: 1,
    workflowExecutionStartedEventAttributes: {
      workflowType: { name: 'orderWorkflow' },
      taskQueue: { name: 'mostro', kind: 'TASK_QUEUE_KIND_NORMAL' },
      input: { payloads: [{ metadata: { encoding: Buffer.from('json/plain') }, data: Buffer.from('{"orderId":"é' + 'x'.repeat(300) + '"}') }] },
    },
  },
  { eventId: 2, eventTime: { seconds: 1_700_000_000 }, eventType: 'EVENT_TYPE_WORKFLOW_TASK_SCHEDULED', taskId: 2, workflowTaskScheduledEventAttributes: { startToCloseTimeout: { seconds: 10 }, attempt: 1 } },
  { eventId: 3, eventType: 'EVENT_TYPE_WORKFLOW_TASK_STARTED', taskId: 3, workflowTaskStartedEventAttributes: { scheduledEventId: 2, identity: 'w', requestId: 'r' } },
];

describe('responses with encoded history events', () => {
  const def = loadServices().workflowService;
  const wrapped = withEncodedHistory(def);
  const stored = History.from(events);
  const cases: [string, Msg][] = [
    ['PollWorkflowTaskQueue', { taskToken: Buffer.from('t'), workflowType: { name: 'orderWorkflow' }, startedEventId: 3, attempt: 1, queries: {} }],
    ['GetWorkflowExecutionHistory', { nextPageToken: Buffer.from('next') }],
    ['GetWorkflowExecutionHistoryReverse', {}],
  ];

  it.each(cases)('%s: the same bytes for the client as decoded objects would give', (method, rest) => {
    const plain = def[method] as grpc.MethodDefinition<Msg, Msg>;
    const fast = wrapped[method] as grpc.MethodDefinition<Msg, Msg>;
    const ordinary = plain.responseDeserialize(plain.responseSerialize({ ...rest, history: { events: stored.slice() } }));
    const passedThrough = plain.responseDeserialize(fast.responseSerialize({ ...rest, history: new EncodedEvents(stored.encodedSlice()) }));
    expect(passedThrough).toEqual(ordinary);
    expect((passedThrough.history as { events: Msg[] }).events).toHaveLength(3);
  });

  it('an empty history, and responses without one, are left as they are', () => {
    const plain = def.PollWorkflowTaskQueue as grpc.MethodDefinition<Msg, Msg>;
    const fast = wrapped.PollWorkflowTaskQueue as grpc.MethodDefinition<Msg, Msg>;
    expect(plain.responseDeserialize(fast.responseSerialize({ history: new EncodedEvents([]) }))).toEqual(plain.responseDeserialize(plain.responseSerialize({ history: {} })));
    expect(fast.responseSerialize({})).toEqual(plain.responseSerialize({}));
    expect(wrapped.StartWorkflowExecution).toBe(def.StartWorkflowExecution);
  });

  it('a large history (multi-byte lengths)', () => {
    const many = History.from(Array.from({ length: 2000 }, (_, i) => ({ ...events[1], eventId: i + 1, taskId: i + 1 })));
    const plain = def.GetWorkflowExecutionHistory as grpc.MethodDefinition<Msg, Msg>;
    const fast = wrapped.GetWorkflowExecutionHistory as grpc.MethodDefinition<Msg, Msg>;
    const out = plain.responseDeserialize(fast.responseSerialize({ history: new EncodedEvents(many.encodedSlice()) }));
    expect((out.history as { events: Msg[] }).events.map((e) => e.eventId)).toEqual(Array.from({ length: 2000 }, (_, i) => i + 1));
  });
});
