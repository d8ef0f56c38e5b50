/* message: TON message cells: internal (as a wallet sends it) and external-in. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_TON_MESSAGE_H
#define COCOON_TON_MESSAGE_H

#include <stdint.h>

#include "base/err.h"
#include "ton/address.h"
#include "ton/cell.h"

/* Put the StateInit and the body in refs always. Without it, they go inline when they fit,
 * by the rule @ton/core applies, so the cells (and hashes) equal what it builds. */
#define TON_MSG_FORCE_REF 1u

/* An internal message as a wallet sends it (MessageRelaxed):
 *   int_msg_info$0 ihr_disabled:1 bounce bounced:0 src:addr_none dest value:CurrencyCollection
 *   ihr_fee:0 fwd_fee:0 created_lt:0 created_at:0  init:(Maybe (Either StateInit ^StateInit))
 *   body:(Either X ^X)
 * ihr_disabled is 1 and there are no extra currencies (the wallet fills in the rest). */
struct ton_int_msg {
  int bounce;
  struct ton_addr dest;
  uint64_t value;        /* nano-TON */
  struct ton_cell *init; /* StateInit cell, borrowed; NULL: none */
  struct ton_cell *body; /* borrowed; NULL: the empty cell */
};

/* Caller unrefs *out. */
CC_NODISCARD int ton_int_msg_cell(const struct ton_int_msg *m, unsigned flags, struct ton_cell **out,
                                  struct err *e);

/* ext_in_msg_info$10 src:addr_none dest import_fee:0 init body (init and body borrowed; init is
 * the StateInit cell or NULL, body NULL means empty). Caller unrefs *out. */
CC_NODISCARD int ton_ext_in_msg_cell(const struct ton_addr *dest, struct ton_cell *init,
                                     struct ton_cell *body, unsigned flags, struct ton_cell **out,
                                     struct err *e);

/* A text comment body: op 0 then the UTF-8 text, continued in a chain of refs when long.
 * Caller unrefs *out. */
CC_NODISCARD int ton_comment_cell(const char *text, struct ton_cell **out, struct err *e);

#endif
