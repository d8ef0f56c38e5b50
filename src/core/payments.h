/* payments: what a client or worker does with the proxy's signed payments: verify, keep the
 * highest, refuse one that goes backwards, and keep it across restarts. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_PAYMENTS_H
#define COCOON_CORE_PAYMENTS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "tl/tl_schema.h"
#include "ton/address.h"

#define PAYMENTS_PATH_MAX 4200

/* The best signed payment held from one proxy (identified by its Ed25519 key). */
struct payments_held {
  int64_t tokens;    /* highest verified cumulative total */
  uint64_t received; /* verified messages */
  struct buf boc;    /* the message itself: what a contract accepts */
  int bound;         /* proxy_key/path set by payments_held_bind */
  uint8_t proxy_key[32];
  int has_contract;         /* set by payments_held_set_contract */
  struct ton_addr contract; /* the contract address the proxy announced for us */
  char path[PAYMENTS_PATH_MAX]; /* "" : not persisted */
  uint64_t saves, save_failures;
};

void payments_held_init(struct payments_held *h);
void payments_held_free(struct payments_held *h);

/* Binds h to the proxy whose key is proxy_pubkey. When that differs from the key h holds for,
 * what is held is dropped and the payment persisted for this key is loaded from
 * dir/held-<op>-<key hex>.boc (verified like a received one: op, signature, target = owner). dir
 * NULL or "": nothing is persisted. A file that does not verify is reported (ERR_CRYPTO or
 * ERR_PARSE) and nothing is loaded; a missing file is not an error. Blocking (a small read). */
CC_NODISCARD int payments_held_bind(struct payments_held *h, const char *dir, const uint8_t proxy_pubkey[32],
                                    uint32_t op, const char *owner, struct err *e);

/* The contract address the proxy announced for us in its connectedToProxy answer
 * (client_sc_address / worker_sc_address, addr bytes of len as on the wire). A COCOON proxy signs
 * payments for that contract, not for our owner address, so from now on a payment whose target is
 * either is accepted. It is taken as announced: COCOON re-derives it from the root configuration
 * (a StateInit hash) which we cannot do yet (docs/interop.md). len 0 clears it. ERR_PARSE when it
 * is not a TON address (nothing changes). */
CC_NODISCARD int payments_held_set_contract(struct payments_held *h, const uint8_t *addr, size_t len,
                                            struct err *e);

/* Checks a proxy.SignedPayment from the proxy whose key is proxy_pubkey: op, signature, target =
 * our own address (owner, as configured). An empty payment is ignored (0). A total below the one
 * held is refused (ERR_REFUSED: the proxy lost or rolled back its ledger); a valid higher one
 * replaces it and, when h is bound to a directory, is written there durably (temporary file,
 * fsync, rename, mode 0600; blocking, a few ms: the proxy renews a link's total at most once per
 * payment interval). A failed write is counted and logged; the payment is still held. */
CC_NODISCARD int payments_accept(struct payments_held *h, const struct tl_signed_payment *sp, uint32_t op,
                                 const char *owner, const uint8_t proxy_pubkey[32], struct err *e);

/* The handshake and payment-status checks (COCOON's worker compareBalanceWithProxy result and
 * the client's authorization/paymentStatus): the signed payment as in payments_accept, and the
 * proxy's committed total `db_tokens` may not be below what we hold ("tokens_committed_to_db is
 * too low": ERR_REFUSED). */
CC_NODISCARD int payments_check_status(struct payments_held *h, const struct tl_signed_payment *sp,
                                       int64_t db_tokens, uint32_t op, const char *owner,
                                       const uint8_t proxy_pubkey[32], struct err *e);

#endif
