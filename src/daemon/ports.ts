/** Where the embedded parts of `npm start` listen unless told to pick free ports (`--ephemeral-ports`). */
export const EMBEDDED_PORTS = { temporal: 7233, relay: 7000, lndGrpc: 10009, lnsimControl: 10010, lnurl: 10011 };
