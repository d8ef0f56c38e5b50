/* wallet_transfer: signed external transfers for wallets v4r2 and v5r1. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/wallet_transfer.h"

#include <openssl/crypto.h>
#include <string.h>

#include "ton/message.h"
#include "ton/sign.h"

static int fail_build(struct ton_builder *b, int rc, struct err *e, const char *what) {
  ton_builder_clear(b);
  return err_set(e, rc, "wallet: cannot build the %s", what);
}

/* out_list: an empty cell, then for each action a cell holding (ref to previous, action). */
static int v5_out_list(const struct ton_wallet_transfer *t, struct ton_cell **out, struct err *e) {
  struct ton_cell *prev = ton_cell_empty();
  if (!prev) return err_set(e, ERR_NOMEM, "wallet: out of memory");
  for (size_t i = 0; i < t->nmsgs; i++) {
    struct ton_builder b;
    ton_builder_init(&b);
    int rc = ton_builder_store_ref(&b, prev);
    if (!rc) rc = ton_builder_store_uint(&b, TON_OUT_ACTION_SEND_MSG, 32);
    if (!rc) rc = ton_builder_store_uint(&b, (uint8_t)(t->msgs[i].mode | TON_SEND_MODE_IGNORE_ERRORS), 8);
    if (!rc) rc = ton_builder_store_ref(&b, t->msgs[i].msg);
    ton_cell_unref(prev);
    prev = NULL;
    if (rc) return fail_build(&b, rc, e, "action list");
    if ((rc = ton_builder_end(&b, &prev, e))) return rc;
  }
  *out = prev;
  return 0;
}

int ton_wallet_transfer_body(const struct ton_wallet *w, const struct ton_wallet_transfer *t, const uint8_t seed[32],
                             struct ton_cell **out, struct err *e) {
  size_t max = w->kind == TON_WALLET_V4R2 ? TON_WALLET_V4R2_MAX_MSGS : TON_WALLET_V5R1_MAX_MSGS;
  if (t->nmsgs > max)
    return err_set(e, ERR_LIMIT, "wallet: %zu messages, %s sends at most %zu at once", t->nmsgs,
                   ton_wallet_kind_name(w->kind), max);
  for (size_t i = 0; i < t->nmsgs; i++)
    if (!t->msgs[i].msg) return err_set(e, ERR_INVALID, "wallet: message %zu is missing", i);
  uint8_t pub[32], sig[64];
  if (ton_sign_pubkey(seed, pub)) return err_set(e, ERR_CRYPTO, "wallet: bad private key");
  if (memcmp(pub, w->pubkey, 32))
    return err_set(e, ERR_INVALID, "wallet: the private key does not belong to this wallet's public key");
  struct ton_builder b;
  struct ton_cell *unsigned_cell = NULL, *list = NULL;
  int rc;
  ton_builder_init(&b);
  if (w->kind == TON_WALLET_V4R2) {
    rc = ton_builder_store_uint(&b, w->wallet_id, 32);
    if (!rc) rc = ton_builder_store_uint(&b, t->valid_until, 32);
    if (!rc) rc = ton_builder_store_uint(&b, t->seqno, 32);
    if (!rc) rc = ton_builder_store_uint(&b, 0, 8); /* op: simple send */
    for (size_t i = 0; !rc && i < t->nmsgs; i++) {
      rc = ton_builder_store_uint(&b, t->msgs[i].mode, 8);
      if (!rc) rc = ton_builder_store_ref(&b, t->msgs[i].msg);
    }
  } else {
    if (t->nmsgs && (rc = v5_out_list(t, &list, e))) return rc;
    rc = ton_builder_store_uint(&b, TON_WALLET_V5R1_OP_SIGNED_EXTERNAL, 32);
    if (!rc) rc = ton_builder_store_uint(&b, w->wallet_id, 32);
    if (!rc) rc = ton_builder_store_uint(&b, t->valid_until, 32);
    if (!rc) rc = ton_builder_store_uint(&b, t->seqno, 32);
    if (!rc) rc = ton_builder_store_maybe_ref(&b, list);
    if (!rc) rc = ton_builder_store_bit(&b, 0); /* no extended actions */
    ton_cell_unref(list);
  }
  if (rc) return fail_build(&b, rc, e, "transfer");
  if ((rc = ton_builder_end(&b, &unsigned_cell, e))) return rc;
  if (ton_sign(seed, unsigned_cell->hash, TON_HASH_LEN, sig)) {
    ton_cell_unref(unsigned_cell);
    return err_set(e, ERR_CRYPTO, "wallet: signing failed");
  }
  ton_builder_init(&b);
  if (w->kind == TON_WALLET_V4R2) {
    rc = ton_builder_store_bytes(&b, sig, 64);
    if (!rc) rc = ton_builder_store_cell_contents(&b, unsigned_cell);
  } else {
    rc = ton_builder_store_cell_contents(&b, unsigned_cell);
    if (!rc) rc = ton_builder_store_bytes(&b, sig, 64);
  }
  ton_cell_unref(unsigned_cell);
  if (rc) return fail_build(&b, rc, e, "signed transfer");
  return ton_builder_end(&b, out, e);
}

int ton_wallet_transfer_external(const struct ton_wallet *w, const struct ton_wallet_transfer *t,
                                 const uint8_t seed[32], int with_init, struct ton_cell **out, struct err *e) {
  struct ton_cell *body = NULL, *init = NULL;
  struct ton_addr a;
  int rc = ton_wallet_transfer_body(w, t, seed, &body, e);
  if (!rc) rc = ton_wallet_address(w, &a, e);
  if (!rc && with_init) rc = ton_wallet_state_init(w, &init, e);
  if (!rc) rc = ton_ext_in_msg_cell(&a, init, body, 0, out, e);
  ton_cell_unref(init);
  ton_cell_unref(body);
  return rc;
}
