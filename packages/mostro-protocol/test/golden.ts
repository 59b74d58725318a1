/**
 * Golden vectors: canonical JSON for every action, with the payloads the reference daemon and its clients use.
 * Each string is exactly what serde_json prints for mostro-core 0.14's types.
 */
const OID = '7dd204d2-d06c-4406-a3d9-4415f4a8b9c9';
const DID = '2f1b7a8e-4c39-4b1f-9a8d-4d1e2b3c4d5e';
const PK = 'f5afa0b09d50fc78d3b3836122b43105a018a30e5ab3eccb36480a525271f3f1';
const PK2 = '8717dc2de0ae9de4bc3aca6460ce6ae4ad6b6f8d6e5683305cda7bfdf9cdaf5a';
const INV = 'lnbcrt10u1pjexample';
const NEW_ORDER =
  '{"kind":"sell","status":"pending","amount":0,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face","premium":1,"created_at":0,"expires_at":null}';
const FULL_ORDER = `{"id":"${OID}","kind":"sell","status":"active","amount":7851,"fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"face to face,bank transfer","premium":1,"buyer_trade_pubkey":"${PK}","seller_trade_pubkey":"${PK2}","created_at":1700000000,"expires_at":1700086400}`;
const SOLVER_INFO = `{"id":"${OID}","kind":"sell","status":"dispute","hash":"ab12","preimage":null,"order_previous_status":"fiat-sent","initiator_pubkey":"${PK}","buyer_pubkey":"${PK}","seller_pubkey":"${PK2}","initiator_full_privacy":false,"counterpart_full_privacy":true,"initiator_info":{"rating":4.5,"reviews":10,"operating_days":30},"counterpart_info":null,"premium":1,"payment_method":"face to face","amount":7851,"fiat_amount":100,"fee":39,"routing_fee":0,"buyer_invoice":null,"invoice_held_at":1700000100,"taken_at":1700000050,"created_at":1700000000}`;

const m = (wrapper: string, body: string) => `{"${wrapper}":{${body}}}`;
const k = (rid: string, ti: string, id: string | null, action: string, payload: string) =>
  `"version":2,"request_id":${rid},"trade_index":${ti},${id ? `"id":"${id}",` : ''}"action":"${action}","payload":${payload}`;

export interface Golden {
  name: string;
  json: string;
  /** Whether mostro-core's MessageKind::verify accepts it. */
  shapeOk: boolean;
}

export const GOLDEN: Golden[] = [
  { name: 'new-order (mostro-cli, 64-bit request id)', json: m('order', k('15285610729373585371', '1', null, 'new-order', `{"order":${NEW_ORDER}}`)), shapeOk: true },
  { name: 'new-order range with invoice', json: m('order', k('1', '2', null, 'new-order', '{"order":{"kind":"buy","status":"pending","amount":0,"fiat_code":"USD","min_amount":10,"max_amount":50,"fiat_amount":0,"payment_method":"cash","premium":-2,"buyer_invoice":"alice@example.com","created_at":0,"expires_at":1700086400}}')), shapeOk: true },
  { name: 'new-order ack', json: m('order', k('8721', 'null', OID, 'new-order', `{"order":${FULL_ORDER}}`)), shapeOk: true },
  { name: 'take-sell with invoice', json: m('order', k('18446744073709551615', '3', OID, 'take-sell', `{"payment_request":[null,"${INV}",null]}`)), shapeOk: true },
  { name: 'take-sell range amount', json: m('order', k('5', '3', OID, 'take-sell', '{"amount":25}')), shapeOk: true },
  { name: 'take-buy', json: m('order', k('6', '4', OID, 'take-buy', 'null')), shapeOk: true },
  { name: 'pay-invoice', json: m('order', k('6', 'null', OID, 'pay-invoice', `{"payment_request":[${FULL_ORDER},"${INV}",7851]}`)), shapeOk: true },
  { name: 'pay-invoice taker reputation (fails verify by design)', json: m('order', k('null', 'null', OID, 'pay-invoice', '{"peer":{"pubkey":"","reputation":{"rating":4.5,"reviews":7,"operating_days":30}}}')), shapeOk: false },
  { name: 'pay-bond-invoice', json: m('order', k('9', 'null', OID, 'pay-bond-invoice', `{"payment_request":[${FULL_ORDER},"${INV}",1000]}`)), shapeOk: true },
  { name: 'add-invoice (client)', json: m('order', k('10', 'null', OID, 'add-invoice', `{"payment_request":[null,"${INV}",null]}`)), shapeOk: true },
  { name: 'add-invoice (daemon asks, order payload)', json: m('order', k('null', 'null', OID, 'add-invoice', `{"order":${FULL_ORDER}}`)), shapeOk: false },
  { name: 'add-bond-invoice request', json: m('order', k('null', 'null', OID, 'add-bond-invoice', `{"bond_payout_request":{"order":${FULL_ORDER},"slashed_at":1734000000}}`)), shapeOk: true },
  { name: 'add-bond-invoice reply', json: m('order', k('11', 'null', OID, 'add-bond-invoice', `{"payment_request":[null,"${INV}",null]}`)), shapeOk: true },
  { name: 'fiat-sent', json: m('order', k('1', 'null', OID, 'fiat-sent', 'null')), shapeOk: true },
  { name: 'fiat-sent next trade', json: m('order', k('1', 'null', OID, 'fiat-sent', `{"next_trade":["${PK2}",7]}`)), shapeOk: true },
  { name: 'fiat-sent-ok', json: m('order', k('1', 'null', OID, 'fiat-sent-ok', `{"peer":{"pubkey":"${PK}","reputation":null}}`)), shapeOk: true },
  { name: 'release', json: m('order', k('2', 'null', OID, 'release', 'null')), shapeOk: true },
  { name: 'released', json: m('order', k('null', 'null', OID, 'released', 'null')), shapeOk: true },
  { name: 'cancel', json: m('order', k('3', 'null', OID, 'cancel', 'null')), shapeOk: true },
  { name: 'canceled', json: m('order', k('3', 'null', OID, 'canceled', 'null')), shapeOk: true },
  { name: 'cooperative-cancel-initiated-by-you', json: m('order', k('3', 'null', OID, 'cooperative-cancel-initiated-by-you', 'null')), shapeOk: true },
  { name: 'cooperative-cancel-initiated-by-peer', json: m('order', k('null', 'null', OID, 'cooperative-cancel-initiated-by-peer', 'null')), shapeOk: true },
  { name: 'cooperative-cancel-accepted', json: m('order', k('null', 'null', OID, 'cooperative-cancel-accepted', 'null')), shapeOk: true },
  { name: 'dispute', json: m('order', k('4', 'null', OID, 'dispute', 'null')), shapeOk: true },
  { name: 'dispute-initiated-by-you', json: m('order', k('4', 'null', OID, 'dispute-initiated-by-you', `{"dispute":["${DID}",null]}`)), shapeOk: true },
  { name: 'dispute-initiated-by-peer', json: m('order', k('null', 'null', OID, 'dispute-initiated-by-peer', `{"dispute":["${DID}",null]}`)), shapeOk: true },
  { name: 'buyer-invoice-accepted', json: m('order', k('null', 'null', OID, 'buyer-invoice-accepted', 'null')), shapeOk: true },
  { name: 'purchase-completed', json: m('order', k('null', 'null', OID, 'purchase-completed', 'null')), shapeOk: true },
  { name: 'hold-invoice-payment-accepted', json: m('order', k('null', 'null', OID, 'hold-invoice-payment-accepted', `{"order":${FULL_ORDER}}`)), shapeOk: true },
  { name: 'hold-invoice-payment-settled', json: m('order', k('2', 'null', OID, 'hold-invoice-payment-settled', 'null')), shapeOk: true },
  { name: 'hold-invoice-payment-canceled', json: m('order', k('null', 'null', OID, 'hold-invoice-payment-canceled', 'null')), shapeOk: true },
  { name: 'waiting-seller-to-pay', json: m('order', k('10', 'null', OID, 'waiting-seller-to-pay', 'null')), shapeOk: true },
  { name: 'waiting-buyer-invoice', json: m('order', k('null', 'null', OID, 'waiting-buyer-invoice', 'null')), shapeOk: true },
  { name: 'buyer-took-order', json: m('order', k('null', 'null', OID, 'buyer-took-order', `{"order":${FULL_ORDER}}`)), shapeOk: true },
  { name: 'rate', json: m('order', k('null', 'null', OID, 'rate', 'null')), shapeOk: true },
  { name: 'rate-user', json: m('order', k('null', 'null', OID, 'rate-user', '{"rating_user":5}')), shapeOk: true },
  { name: 'rate-received', json: m('order', k('null', 'null', OID, 'rate-received', '{"rating_user":5}')), shapeOk: true },
  { name: 'cant-do', json: m('cant-do', k('8721', 'null', OID, 'cant-do', '{"cant_do":"not_allowed_by_status"}')), shapeOk: true },
  { name: 'cant-do without reason', json: m('cant-do', k('null', 'null', null, 'cant-do', '{"cant_do":null}')), shapeOk: true },
  { name: 'admin-cancel with bond resolution', json: m('dispute', k('null', 'null', OID, 'admin-cancel', '{"bond_resolution":{"slash_seller":false,"slash_buyer":true}}')), shapeOk: true },
  { name: 'admin-canceled', json: m('order', k('null', 'null', OID, 'admin-canceled', 'null')), shapeOk: true },
  { name: 'admin-settle', json: m('dispute', k('null', 'null', OID, 'admin-settle', 'null')), shapeOk: true },
  { name: 'admin-settled', json: m('order', k('null', 'null', OID, 'admin-settled', 'null')), shapeOk: true },
  { name: 'admin-add-solver', json: m('dispute', k('null', 'null', DID, 'admin-add-solver', '{"text_message":"npub1examplexyz:read-write"}')), shapeOk: true },
  { name: 'admin-take-dispute', json: m('dispute', k('null', 'null', DID, 'admin-take-dispute', 'null')), shapeOk: true },
  { name: 'admin-took-dispute (to the solver)', json: m('dispute', k('null', 'null', DID, 'admin-took-dispute', `{"dispute":["${DID}",${SOLVER_INFO}]}`)), shapeOk: true },
  { name: 'admin-took-dispute (to a party)', json: m('order', k('null', 'null', OID, 'admin-took-dispute', `{"peer":{"pubkey":"${PK}","reputation":null}}`)), shapeOk: true },
  { name: 'payment-failed', json: m('order', k('null', 'null', OID, 'payment-failed', '{"payment_failed":{"payment_attempts":2,"payment_retries_interval":60}}')), shapeOk: true },
  { name: 'invoice-updated', json: m('order', k('12', 'null', OID, 'invoice-updated', 'null')), shapeOk: true },
  { name: 'send-dm', json: m('dm', k('null', 'null', OID, 'send-dm', '{"text_message":"hola \\"amigo\\"\\n✓"}')), shapeOk: true },
  { name: 'trade-pubkey', json: m('order', k('13', 'null', OID, 'trade-pubkey', 'null')), shapeOk: true },
  { name: 'restore-session request', json: m('restore', k('null', 'null', null, 'restore-session', 'null')), shapeOk: true },
  { name: 'restore-session reply', json: m('restore', k('null', 'null', null, 'restore-session', `{"restore_data":{"orders":[{"order_id":"${OID}","trade_index":3,"status":"active"}],"disputes":[{"dispute_id":"${DID}","order_id":"${OID}","trade_index":3,"status":"initiated","initiator":"buyer","solver_pubkey":null}]}}`)), shapeOk: false },
  { name: 'last-trade-index', json: m('restore', k('null', '7', null, 'last-trade-index', 'null')), shapeOk: true },
  { name: 'orders request', json: m('order', k('77', 'null', null, 'orders', `{"ids":["${OID}","${DID}"]}`)), shapeOk: true },
  { name: 'orders reply', json: m('order', k('77', 'null', null, 'orders', `{"orders":[${FULL_ORDER}]}`)), shapeOk: true },
  { name: 'bond-invoice-accepted', json: m('order', k('null', 'null', OID, 'bond-invoice-accepted', `{"order":${FULL_ORDER}}`)), shapeOk: true },
  { name: 'bond-payout-completed', json: m('order', k('null', 'null', OID, 'bond-payout-completed', `{"order":${FULL_ORDER}}`)), shapeOk: true },
  { name: 'bond-slashed', json: m('order', k('null', 'null', OID, 'bond-slashed', `{"order":${FULL_ORDER}}`)), shapeOk: true },
  { name: 'add-cashu-escrow', json: m('order', k('1', 'null', OID, 'add-cashu-escrow', `{"cashu_lock_proof":{"token":"cashuA1","mint_url":"https://mint","buyer_pubkey":"${PK}","seller_pubkey":"${PK2}","mostro_pubkey":"${PK}","fee_token":"cashuB"}}`)), shapeOk: true },
  { name: 'cashu-escrow-locked', json: m('order', k('null', 'null', OID, 'cashu-escrow-locked', 'null')), shapeOk: true },
  { name: 'cashu-pm-signature', json: m('order', k('null', 'null', OID, 'cashu-pm-signature', '{"cashu_signatures":[{"secret":"s","signature":"sig"}]}')), shapeOk: true },
];

/** Inputs the daemon must reject at parse time (interop.md §9 and serde's rules). */
export const REJECTED: { name: string; json: string }[] = [
  { name: 'unknown action (PascalCase)', json: m('order', k('1', 'null', OID, 'NewOrder', 'null')) },
  { name: 'request_id as a string', json: m('order', k('"123456"', 'null', OID, 'release', 'null')) },
  { name: 'request_id negative', json: m('order', k('-1', 'null', OID, 'release', 'null')) },
  { name: 'request_id above u64', json: m('order', k('18446744073709551616', 'null', OID, 'release', 'null')) },
  { name: 'SmallOrder missing amount', json: m('order', k('1', '1', null, 'new-order', '{"order":{"kind":"sell","status":"pending","fiat_code":"VES","min_amount":null,"max_amount":null,"fiat_amount":100,"payment_method":"x","premium":1,"created_at":0,"expires_at":null}}')) },
  { name: 'SmallOrder with unknown keys', json: m('order', k('1', '1', null, 'new-order', '{"order":{"kind":"sell","amount":0,"fiat_code":"VES","fiat_amount":100,"payment_method":"x","premium":1,"network":"mainnet","layer":"lightning"}}')) },
  { name: 'short payment_request', json: m('order', k('1', 'null', OID, 'add-invoice', `{"payment_request":[null,"${INV}"]}`)) },
  { name: 'dispute payload as a bare id (docs form)', json: m('order', k('1', 'null', OID, 'dispute-initiated-by-you', `{"dispute":"${DID}"}`)) },
  { name: 'kebab-case cant-do reason', json: m('cant-do', k('1', 'null', OID, 'cant-do', '{"cant_do":"invalid-trade-index"}')) },
  { name: 'pre-0.13 message (content instead of payload, version missing)', json: `{"order":{"id":"${OID}","action":"release","content":null}}` },
  { name: 'integer id (docs form)', json: m('order', k('1', 'null', null, 'release', 'null')).replace('"request_id":1,', '"request_id":1,"id":5,') },
  { name: 'version as a float', json: m('order', k('1', 'null', OID, 'release', 'null')).replace('"version":2', '"version":2.0') },
  { name: 'rating above u8', json: m('order', k('1', 'null', OID, 'rate-user', '{"rating_user":256}')) },
  { name: 'two payload keys', json: m('order', k('1', 'null', OID, 'take-sell', '{"amount":1,"text_message":"x"}')) },
  { name: 'two wrapper keys', json: `{"order":{${k('1', 'null', OID, 'release', 'null')}},"dm":{${k('1', 'null', OID, 'release', 'null')}}}` },
  { name: 'unknown wrapper', json: `{"trade":{${k('1', 'null', OID, 'release', 'null')}}}` },
  { name: 'duplicate field', json: m('order', k('1', 'null', OID, 'release', 'null')).replace('"action":"release"', '"action":"release","action":"cancel"') },
  { name: 'double-encoded message (a JSON string)', json: JSON.stringify(m('order', k('1', 'null', OID, 'release', 'null'))) },
  { name: 'not JSON', json: '{"order":' },
  { name: 'invalid uuid', json: m('order', k('1', 'null', 'not-a-uuid', 'release', 'null')) },
];
