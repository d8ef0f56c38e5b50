/* payments: what a client or worker does with the proxy's signed payments: verify, keep the
 * highest, refuse one that goes backwards. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CORE_PAYMENTS_H
#define COCOON_CORE_PAYMENTS_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "tl/tl_schema.h"

/* The best signed payment held from one proxy. */
struct payments_held {
  int64_t tokens;    /* highest verified cumulative total */
  uint64_t received; /* verified messages */
  struct buf boc;    /* the message itself: what a contract accepts */
};

void payments_held_init(struct payments_held *h);
void payments_held_free(struct payments_held *h);

/* Checks a proxy.SignedPayment from the proxy whose key is proxy_pubkey: op, signature, target =
 * our own address (owner, as configured). An empty payment is ignored (0). A total below the one
 * held is refused (ERR_REFUSED: the proxy lost or rolled back its ledger); a valid higher one
 * replaces it. */
CC_NODISCARD int payments_accept(struct payments_held *h, const struct tl_signed_payment *sp, uint32_t op,
                                 const char *owner, const uint8_t proxy_pubkey[32], struct err *e);

#endif
