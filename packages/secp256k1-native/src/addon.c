/*
 * BIP-340 signatures and the ECDH of NIP-44 through the system's libsecp256k1 (Debian's libsecp256k1-dev 0.2.0 has
 * the schnorrsig, extrakeys and ecdh modules), as a Node-API addon: ABI-stable across Node versions, loadable in
 * worker threads (each environment gets its own context).
 */
#include <node_api.h>
#include <secp256k1.h>
#include <secp256k1_ecdh.h>
#include <secp256k1_extrakeys.h>
#include <secp256k1_schnorrsig.h>
#include <string.h>
#include <sys/random.h>

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) != napi_ok) return NULL;                                                                                \
  } while (0)

static void destroy_context(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  secp256k1_context_destroy((secp256k1_context *)data);
}

static secp256k1_context *context_of(napi_env env) {
  void *data = NULL;
  if (napi_get_instance_data(env, &data) != napi_ok) return NULL;
  return (secp256k1_context *)data;
}

/* The bytes of a Uint8Array (or Buffer) argument of exactly `len` bytes; throws a TypeError otherwise. */
static const unsigned char *bytes_arg(napi_env env, napi_value v, size_t len, const char *what) {
  bool is_typed = false;
  if (napi_is_typedarray(env, v, &is_typed) != napi_ok || !is_typed) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  if (napi_get_typedarray_info(env, v, &type, &length, &data, NULL, NULL) != napi_ok || type != napi_uint8_array || length != len) {
    napi_throw_type_error(env, NULL, what);
    return NULL;
  }
  return (const unsigned char *)data;
}

static napi_value new_bytes(napi_env env, const unsigned char *src, size_t len) {
  napi_value ab, out;
  void *data = NULL;
  CHECK(napi_create_arraybuffer(env, len, &data, &ab));
  memcpy(data, src, len);
  CHECK(napi_create_typedarray(env, napi_uint8_array, len, ab, 0, &out));
  return out;
}

static napi_value boolean(napi_env env, bool b) {
  napi_value out;
  CHECK(napi_get_boolean(env, b, &out));
  return out;
}

/* verifySchnorr(signature64, digest32, xOnlyPubkey32) → boolean; an invalid public key is a failed verification. */
static napi_value verify_schnorr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) return boolean(env, false);
  const unsigned char *sig = bytes_arg(env, argv[0], 64, "signature: 64 bytes expected");
  if (!sig) return NULL;
  const unsigned char *msg = bytes_arg(env, argv[1], 32, "digest: 32 bytes expected");
  if (!msg) return NULL;
  const unsigned char *pk = bytes_arg(env, argv[2], 32, "public key: 32 bytes expected");
  if (!pk) return NULL;
  secp256k1_xonly_pubkey pubkey;
  const secp256k1_context *ctx = context_of(env);
  if (!secp256k1_xonly_pubkey_parse(ctx, &pubkey, pk)) return boolean(env, false);
  return boolean(env, secp256k1_schnorrsig_verify(ctx, sig, msg, 32, &pubkey) == 1);
}

/* signSchnorr(digest32, secretKey32, aux32) → signature64; throws on an invalid secret key. */
static napi_value sign_schnorr(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 3) {
    napi_throw_type_error(env, NULL, "signSchnorr(digest, secretKey, aux)");
    return NULL;
  }
  const unsigned char *msg = bytes_arg(env, argv[0], 32, "digest: 32 bytes expected");
  if (!msg) return NULL;
  const unsigned char *sk = bytes_arg(env, argv[1], 32, "secret key: 32 bytes expected");
  if (!sk) return NULL;
  const unsigned char *aux = bytes_arg(env, argv[2], 32, "auxiliary randomness: 32 bytes expected");
  if (!aux) return NULL;
  const secp256k1_context *ctx = context_of(env);
  secp256k1_keypair keypair;
  unsigned char sig[64];
  int ok = secp256k1_keypair_create(ctx, &keypair, sk) && secp256k1_schnorrsig_sign32(ctx, sig, msg, &keypair, aux);
  memset(&keypair, 0, sizeof keypair);
  if (!ok) {
    napi_throw_range_error(env, NULL, "invalid secret key");
    return NULL;
  }
  return new_bytes(env, sig, 64);
}

/* xOnlyPublicKey(secretKey32) → x-only public key (32 bytes); throws on an invalid secret key. */
static napi_value x_only_public_key(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 1) {
    napi_throw_type_error(env, NULL, "xOnlyPublicKey(secretKey)");
    return NULL;
  }
  const unsigned char *sk = bytes_arg(env, argv[0], 32, "secret key: 32 bytes expected");
  if (!sk) return NULL;
  const secp256k1_context *ctx = context_of(env);
  secp256k1_keypair keypair;
  secp256k1_xonly_pubkey pubkey;
  unsigned char out[32];
  int ok = secp256k1_keypair_create(ctx, &keypair, sk) && secp256k1_keypair_xonly_pub(ctx, &pubkey, NULL, &keypair) &&
           secp256k1_xonly_pubkey_serialize(ctx, out, &pubkey);
  memset(&keypair, 0, sizeof keypair);
  if (!ok) {
    napi_throw_range_error(env, NULL, "invalid secret key");
    return NULL;
  }
  return new_bytes(env, out, 32);
}

/* The ECDH "hash" NIP-44 wants: the shared point's x coordinate as it is. */
static int copy_x(unsigned char *output, const unsigned char *x32, const unsigned char *y32, void *data) {
  (void)y32;
  (void)data;
  memcpy(output, x32, 32);
  return 1;
}

/* sharedX(secretKey32, xOnlyPubkey32) → x of secretKey·P (P the even-y point); throws on an invalid key. */
static napi_value shared_x(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) {
    napi_throw_type_error(env, NULL, "sharedX(secretKey, publicKey)");
    return NULL;
  }
  const unsigned char *sk = bytes_arg(env, argv[0], 32, "secret key: 32 bytes expected");
  if (!sk) return NULL;
  const unsigned char *pk = bytes_arg(env, argv[1], 32, "public key: 32 bytes expected");
  if (!pk) return NULL;
  const secp256k1_context *ctx = context_of(env);
  unsigned char compressed[33];
  compressed[0] = 0x02;
  memcpy(compressed + 1, pk, 32);
  secp256k1_pubkey pubkey;
  if (!secp256k1_ec_pubkey_parse(ctx, &pubkey, compressed, 33)) {
    napi_throw_range_error(env, NULL, "invalid public key for ECDH");
    return NULL;
  }
  unsigned char out[32];
  if (!secp256k1_ecdh(ctx, out, &pubkey, sk, copy_x, NULL)) {
    napi_throw_range_error(env, NULL, "invalid secret key for ECDH");
    return NULL;
  }
  return new_bytes(env, out, 32);
}

NAPI_MODULE_INIT() {
  secp256k1_context *ctx = secp256k1_context_create(SECP256K1_CONTEXT_NONE);
  unsigned char seed[32];
  /* Blinding against side channels while signing; the library is correct without it. */
  if (ctx && getrandom(seed, sizeof seed, 0) == (ssize_t)sizeof seed) {
    if (!secp256k1_context_randomize(ctx, seed)) {
      secp256k1_context_destroy(ctx);
      ctx = NULL;
    }
  }
  memset(seed, 0, sizeof seed);
  if (!ctx) {
    napi_throw_error(env, NULL, "libsecp256k1: no context");
    return NULL;
  }
  if (napi_set_instance_data(env, ctx, destroy_context, NULL) != napi_ok) return NULL;
  napi_property_descriptor fns[] = {
      {"verifySchnorr", NULL, verify_schnorr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"signSchnorr", NULL, sign_schnorr, NULL, NULL, NULL, napi_enumerable, NULL},
      {"xOnlyPublicKey", NULL, x_only_public_key, NULL, NULL, NULL, napi_enumerable, NULL},
      {"sharedX", NULL, shared_x, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  if (napi_define_properties(env, exports, sizeof fns / sizeof fns[0], fns) != napi_ok) return NULL;
  return exports;
}
