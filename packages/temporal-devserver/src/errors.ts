import { status } from '@grpc/grpc-js';

/** An error that maps to one gRPC status; thrown by the engine, translated by the server binding. */
export class RpcError extends Error {
  constructor(
    readonly code: status,
    message: string,
  ) {
    super(message);
    this.name = 'RpcError';
  }
}

export const notFound = (msg: string) => new RpcError(status.NOT_FOUND, msg);
export const invalidArgument = (msg: string) => new RpcError(status.INVALID_ARGUMENT, msg);
export const alreadyExists = (msg: string) => new RpcError(status.ALREADY_EXISTS, msg);
export const failedPrecondition = (msg: string) => new RpcError(status.FAILED_PRECONDITION, msg);
