/**
 * Loads Temporal's service definitions from the protos shipped inside @temporalio/core-bridge, so the wire format
 * always matches the SDK that is installed (never a copy that could drift).
 */
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const require = createRequire(import.meta.url);

export function protoRoot(): string {
  const bridgePkg = require.resolve('@temporalio/core-bridge/package.json');
  return path.join(path.dirname(bridgePkg), 'sdk-core', 'crates', 'protos', 'protos');
}

export interface TemporalServices {
  workflowService: grpc.ServiceDefinition;
  operatorService: grpc.ServiceDefinition;
  testService: grpc.ServiceDefinition;
}

let cached: TemporalServices | undefined;

export function loadServices(): TemporalServices {
  if (cached) return cached;
  const root = protoRoot();
  const def = protoLoader.loadSync(
    [
      'temporal/api/workflowservice/v1/service.proto',
      'temporal/api/operatorservice/v1/service.proto',
      'temporal/api/testservice/v1/service.proto',
    ],
    {
      includeDirs: [path.join(root, 'api_upstream'), path.join(root, 'testsrv_upstream'), root],
      longs: Number,
      enums: String,
      defaults: false,
      oneofs: true,
    },
  );
  const pick = (name: string): grpc.ServiceDefinition => {
    const svc = def[name] as unknown as grpc.ServiceDefinition | undefined;
    if (!svc) throw new Error(`service ${name} not found in Temporal protos`);
    return svc;
  };
  cached = {
    workflowService: pick('temporal.api.workflowservice.v1.WorkflowService'),
    operatorService: pick('temporal.api.operatorservice.v1.OperatorService'),
    testService: pick('temporal.api.testservice.v1.TestService'),
  };
  return cached;
}
