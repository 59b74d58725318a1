/**
 * The Mostro wire protocol (mostro-core 0.14, MostroP2P/mostro 0.18.x), as a self-contained library usable by the
 * daemon and by TypeScript clients: schemas and types, canonical serialization, lossless parsing, signatures, both
 * transports (v2 nip44 kind 14, v1 gift wrap), NIP-13 proof of work.
 */
export * from './schema.js';
export * from './message.js';
export * from './transport.js';
export { serializePayload, serializeSmallOrder, serializeMessageKind, serializePeer } from './serialize.js';
export { JsonFloat, JsonSyntaxError, parseJson, parseArrayElements, type JsonValue } from './json.js';
export { setCryptoBackend, cryptoBackend, nobleBackend, type CryptoBackend } from './crypto.js';
export { nip44Encrypt, nip44Decrypt, conversationKeyFromSharedX, paddedLength as nip44PaddedLength } from './nip44.js';
