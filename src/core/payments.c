/* payments: what a client or worker does with the proxy's signed payments: verify, keep the
 * highest, refuse one that goes backwards. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "core/payments.h"

#include <string.h>

#include "ton/address.h"
#include "ton/payment.h"

void payments_held_init(struct payments_held *h) {
  h->tokens = 0;
  h->received = 0;
  buf_init(&h->boc, TON_PAYMENT_MAX_BOC);
}

void payments_held_free(struct payments_held *h) { buf_free(&h->boc); }

int payments_accept(struct payments_held *h, const struct tl_signed_payment *sp, uint32_t op, const char *owner,
                    const uint8_t proxy_pubkey[32], struct err *e) {
  if (sp->id != TL_ID_PROXY_SIGNED_PAYMENT || sp->data.n == 0) return 0;
  /* The proxy repeats its latest signed message until it signs a new total: verify once. */
  if (sp->data.n == h->boc.len && h->boc.len && memcmp(sp->data.p, buf_ptr(&h->boc), sp->data.n) == 0) return 0;
  struct ton_payment expect = {.op = op};
  if (ton_addr_parse(owner, &expect.target, NULL, e))
    return err_set(e, ERR_INVALID, "our owner address is not a TON address; cannot check payments");
  struct ton_payment got;
  int rc = ton_payment_verify(sp->data.p, sp->data.n, proxy_pubkey, &expect, &got, e);
  if (rc) return rc;
  if ((int64_t)got.tokens < h->tokens)
    return err_set(e, ERR_REFUSED, "signed total %llu is below the %lld already held (proxy ledger lost or rolled back)",
                   (unsigned long long)got.tokens, (long long)h->tokens);
  h->received++;
  h->tokens = (int64_t)got.tokens;
  buf_reset(&h->boc);
  return buf_append(&h->boc, sp->data.p, sp->data.n);
}
