// Minimal types for the `invoices` package (alexbosworth/invoices), which ships none.
declare module 'invoices' {
  export interface ParsedRequest {
    id: string;
    destination: string;
    network: string;
    tokens?: number;
    mtokens?: string;
    description?: string;
    description_hash?: string;
    expires_at: string;
    created_at: string;
    cltv_delta?: number;
    payment?: string;
    is_expired: boolean;
    features: { bit: number }[];
  }
  export function parsePaymentRequest(args: { request: string }): ParsedRequest;
  export function createUnsignedRequest(args: {
    destination: string;
    id: string;
    network: string;
    tokens?: number;
    description?: string;
    description_hash?: string;
    created_at?: string;
    expires_at?: string;
    cltv_delta?: number;
    payment?: string;
    features?: { bit: number }[];
  }): { hash: string; hrp: string; preimage: string; tags: number[] };
  export function createSignedRequest(args: { destination: string; hrp: string; signature: string; tags: number[] }): { request: string };
  const _default: {
    parsePaymentRequest: typeof parsePaymentRequest;
    createUnsignedRequest: typeof createUnsignedRequest;
    createSignedRequest: typeof createSignedRequest;
  };
  export default _default;
}
