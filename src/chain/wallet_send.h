/* wallet_send: a node's own wallet sends one internal message at a time (balance checked, seqno
 * read, the first message deploying the wallet, resent until the wallet's transaction is seen or
 * the message expired), from the event loop. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_WALLET_SEND_H
#define COCOON_CHAIN_WALLET_SEND_H

#include <stdint.h>

#include "base/err.h"
#include "ton/address.h"
#include "ton/cell.h"
#include "ton/wallet.h"

struct loop;
struct toncenter;
struct chain_wallet_send;

struct chain_wallet_send_config {
  struct toncenter *tc;  /* borrowed; must outlive the sender */
  const uint8_t *seed;   /* the wallet's 32-byte key: copied, wiped on free */
  enum ton_wallet_kind kind;
  int testnet;
  uint32_t ttl_s;        /* a message's validity; 0: 60 */
  uint32_t poll_ms;      /* 0: 300 */
  int64_t fee_reserve;   /* nano-TON the wallet keeps beyond what it sends */
  const char *who;       /* names the wallet in errors ("worker"); borrowed, static */
};

/* rc 0: the wallet's transaction carrying the message was seen. error borrowed for the call. */
typedef void (*chain_wallet_sent_cb)(void *arg, int rc, const char *error);

CC_NODISCARD int chain_wallet_send_new(struct loop *loop, const struct chain_wallet_send_config *cfg,
                                       struct chain_wallet_send **out, struct err *e);
/* Drops a message in flight without its callback. NULL-safe. */
void chain_wallet_send_free(struct chain_wallet_send *s);

/* Everything a node needs to send from its own wallet, opened together: an HTTP client, a
 * toncenter client on it, the key file (chain_wallet_key_load) and the sender. On failure
 * nothing is left open and the three pointers are NULL. Close in the order toncenter, sender,
 * HTTP client (toncenter_free first, so that no callback runs afterwards). */
struct http_client;
struct chain_wallet_open_config {
  const char *toncenter_url, *api_key; /* borrowed for the call */
  const char *key_path;                /* the wallet key file (mode 0600) */
  enum ton_wallet_kind kind;
  int testnet;
  uint32_t ttl_s;
  int64_t fee_reserve;
  const char *who; /* static */
};
CC_NODISCARD int chain_wallet_send_open(struct loop *loop, const struct chain_wallet_open_config *cfg,
                                        struct http_client **hc, struct toncenter **tc,
                                        struct chain_wallet_send **ws, struct err *e);
/* The wallet's address (friendly, non-bounceable) and its last seen balance (-1: unknown). */
const char *chain_wallet_send_address(const struct chain_wallet_send *s);
const struct ton_addr *chain_wallet_send_addr(const struct chain_wallet_send *s);
int64_t chain_wallet_send_balance(const struct chain_wallet_send *s);
int chain_wallet_send_busy(const struct chain_wallet_send *s);

/* Sends value nano-TON with body (borrowed; NULL: none) to dest, bounceable. ERR_AGAIN while a
 * message is in flight. A wallet holding less than value + fee_reserve fails with ERR_REFUSED and
 * "the WHO wallet ADDR holds N nanoTON, this needs M: fund it" (logged as ton_wallet_low). */
CC_NODISCARD int chain_wallet_send_msg(struct chain_wallet_send *s, const struct ton_addr *dest, uint64_t value,
                                       struct ton_cell *body, chain_wallet_sent_cb cb, void *arg, struct err *e);

/* Reads the wallet once and logs its balance, or ton_wallet_low ("fund it") below need. */
void chain_wallet_send_check(struct chain_wallet_send *s, int64_t need);

#endif
