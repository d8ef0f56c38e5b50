/* registry: the root configuration (allowlists, proxies, prices) as a canonical signed text file. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_REGISTRY_REGISTRY_H
#define COCOON_REGISTRY_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

/* Format (docs/registry.md): UTF-8-free ASCII lines ending in "\n", no blank lines, no
 * comments, no trailing spaces. Every accepted file is canonical: serializing what was parsed
 * gives back the same bytes.
 *   cocoon-registry 1                  format version (only 1)
 *   version N                          u64 >= 1, only ever grows
 *   owner HEX64                        the owner's Ed25519 public key
 *   price_per_token N                  the parameters, all present, in this order
 *   worker_fee_per_token N
 *   prompt_multiplier N                10000 = 1.0x
 *   cached_multiplier N
 *   completion_multiplier N
 *   reasoning_multiplier N
 *   proxy_delay_before_close N         seconds
 *   client_delay_before_close N        seconds
 *   min_proxy_stake N                  nano-TON
 *   min_client_stake N                 nano-TON
 *   proxy_image HEX64                  0..REGISTRY_MAX_HASHES, strictly ascending
 *   worker_image HEX64                 0..REGISTRY_MAX_HASHES, strictly ascending
 *   model HEX64                        SHA-256 of the full model name, strictly ascending
 *   proxy_addr HOST:PORT[ HOST:PORT]   0..REGISTRY_MAX_PROXIES, no repeats (workers', clients')
 *   signature HEX128                   optional, last: Ed25519 by owner over every byte before it
 * Numbers are decimal without sign or leading zeros; hex is lowercase. */
#define REGISTRY_FORMAT 1
#define REGISTRY_MAGIC "cocoon-registry"
#define REGISTRY_MAX_FILE ((size_t)64 << 10)
#define REGISTRY_MAX_LINE 300
#define REGISTRY_MAX_HASHES 256 /* each of proxy_image, worker_image, model */
#define REGISTRY_MAX_PROXIES 64
#define REGISTRY_MAX_ADDR 128 /* bytes of one proxy_addr value */
#define REGISTRY_HASH_LEN 32
#define REGISTRY_KEY_LEN 32
#define REGISTRY_SIG_LEN 64
#define REGISTRY_MAX_PRICE (INT64_MAX / 4) /* nano-TON values: prices and stakes */

/* COCOON's root-contract parameters (reference/cocoon-inventory.md §5.1). */
struct registry_params {
  int64_t price_per_token;      /* nano-TON per adjusted token, charged to clients */
  int64_t worker_fee_per_token; /* nano-TON per adjusted token, paid to workers */
  uint32_t prompt_mult, cached_mult, completion_mult, reasoning_mult; /* 10000 = 1.0x */
  uint32_t proxy_delay_before_close, client_delay_before_close;      /* seconds */
  int64_t min_proxy_stake, min_client_stake;                          /* nano-TON */
};

enum registry_list {
  REGISTRY_PROXY_IMAGE = 0,
  REGISTRY_WORKER_IMAGE,
  REGISTRY_MODEL,
  REGISTRY_LISTS,
};

struct registry {
  uint64_t version;
  uint8_t owner[REGISTRY_KEY_LEN];
  struct registry_params params;
  uint8_t hashes[REGISTRY_LISTS][REGISTRY_MAX_HASHES][REGISTRY_HASH_LEN];
  size_t n_hashes[REGISTRY_LISTS];
  char proxy_addrs[REGISTRY_MAX_PROXIES][REGISTRY_MAX_ADDR + 1];
  size_t n_proxy_addrs;
  int is_signed;
  uint8_t signature[REGISTRY_SIG_LEN];
  size_t body_len; /* bytes the signature covers (whole file when unsigned) */
};

/* A fresh unsigned registry: version 1, the owner's key, COCOON's fake-TON parameters (price 2,
 * worker fee 1, multipliers 10000, delays 600/300 s, stakes 1 TON), empty lists. */
void registry_init(struct registry *r, const uint8_t owner[REGISTRY_KEY_LEN]);

/* Parses p[0..n) strictly (see the format above); ERR_PARSE / ERR_LIMIT with e naming the line
 * and what is wrong. Does not check the signature. */
CC_NODISCARD int registry_parse(const uint8_t *p, size_t n, struct registry *r, struct err *e);

/* Appends the canonical text: the body, then the signature line when r->is_signed. */
CC_NODISCARD int registry_serialize(const struct registry *r, struct buf *out);

/* Checks that r is signed, by `owner` (the pinned key), and that the signature covers the
 * canonical body of r. ERR_REFUSED naming the failure ("not signed", "owner ... is not the
 * expected ...", "bad signature"). */
CC_NODISCARD int registry_verify(const struct registry *r, const uint8_t owner[REGISTRY_KEY_LEN],
                                 struct err *e);

/* Parse + verify in one step: what daemons do with a file's bytes. */
CC_NODISCARD int registry_load(const uint8_t *p, size_t n, const uint8_t owner[REGISTRY_KEY_LEN],
                               struct registry *r, struct err *e);

/* Adds a hash to a list, keeping it sorted; ERR_INVALID when already there, ERR_LIMIT when full. */
CC_NODISCARD int registry_add_hash(struct registry *r, enum registry_list l,
                                   const uint8_t h[REGISTRY_HASH_LEN], struct err *e);
/* Removes a hash; ERR_NOTFOUND when absent. */
CC_NODISCARD int registry_remove_hash(struct registry *r, enum registry_list l,
                                      const uint8_t h[REGISTRY_HASH_LEN], struct err *e);
/* Appends a proxy address ("host:port" or "host:port host:port"); validated like the parser. */
CC_NODISCARD int registry_add_proxy(struct registry *r, const char *addr, struct err *e);
/* 1 when h is in list l. */
int registry_has_hash(const struct registry *r, enum registry_list l, const uint8_t h[REGISTRY_HASH_LEN]);
/* A model name's registry hash: SHA-256 of the full name as the worker announces it (COCOON's
 * model_hashes). */
CC_NODISCARD int registry_model_hash(const char *name, size_t len, uint8_t out[REGISTRY_HASH_LEN]);
/* The name of a list as used in files ("proxy_image", "worker_image", "model"). */
const char *registry_list_name(enum registry_list l);
/* Checks the parameters' ranges (the parser's rules, for values set from the command line). */
CC_NODISCARD int registry_params_check(const struct registry_params *p, struct err *e);

#endif
