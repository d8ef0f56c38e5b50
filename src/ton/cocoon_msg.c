/* cocoon_msg: bodies of the messages COCOON's client, proxy and worker contracts accept. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/cocoon_msg.h"

#include <string.h>

#include "ton/payment.h"
#include "ton/sign.h"

static int end(struct ton_builder *b, int rc, const char *what, struct ton_cell **out, struct err *e) {
  if (rc) {
    ton_builder_clear(b);
    return err_set(e, rc, "cocoon: cannot build the %s cell", what);
  }
  return ton_builder_end(b, out, e);
}

int ton_cocoon_msg_cell(const struct ton_cocoon_msg *m, struct ton_cell **out, struct err *e) {
  int coins = 0, nonce = 0, secret = 0;
  switch (m->op) {
    case TON_OP_CLIENT_TOP_UP:
    case TON_OP_CLIENT_INCREASE_STAKE:
    case TON_OP_PROXY_INCREASE_STAKE: coins = 1; break;
    case TON_OP_CLIENT_REGISTER: nonce = 1; break;
    case TON_OP_CLIENT_CHANGE_SECRET: secret = 1; break;
    case TON_OP_CLIENT_CHANGE_SECRET_TOP_UP: coins = secret = 1; break;
    case TON_OP_CLIENT_WITHDRAW:
    case TON_OP_CLIENT_REQUEST_REFUND:
    case TON_OP_PROXY_PAYOUT_REQUEST:
    case TON_OP_OWNER_PROXY_CLOSE: break;
    default: return err_set(e, ERR_INVALID, "cocoon: op %08x is not an owner message", (unsigned)m->op);
  }
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, m->op, 32);
  if (!rc) rc = ton_builder_store_uint(&b, m->qid, 64);
  if (!rc && coins) rc = ton_builder_store_coins(&b, m->coins);
  if (!rc && nonce) rc = ton_builder_store_uint(&b, m->nonce, 64);
  if (!rc && secret) rc = ton_builder_store_bytes(&b, m->secret, 32);
  if (!rc) rc = ton_builder_store_addr(&b, m->has_excess ? &m->excess : NULL);
  return end(&b, rc, "owner message", out, e);
}

int ton_cocoon_save_state_cell(uint64_t qid, int32_t seqno, const uint8_t unique_hash[32], struct ton_cell **out,
                               struct err *e) {
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, TON_OP_DO_NOT_PROCESS, 32);
  if (!rc) rc = ton_builder_store_uint(&b, qid, 64);
  if (!rc) rc = ton_builder_store_uint(&b, TON_OP_PROXY_SAVE_STATE, 32);
  if (!rc) rc = ton_builder_store_int(&b, seqno, 32);
  if (!rc) rc = ton_builder_store_bytes(&b, unique_hash, 32);
  return end(&b, rc, "save-state", out, e);
}

static int has_tokens(uint32_t op) {
  return op == TON_OP_CLIENT_CHARGE_SIGNED || op == TON_OP_CLIENT_GRANT_REFUND_SIGNED ||
         op == TON_OP_WORKER_PAYOUT_SIGNED || op == TON_OP_WORKER_LAST_PAYOUT_SIGNED;
}

static int wrap(uint32_t op, uint64_t qid, const struct ton_addr *excess, const uint8_t sig[64],
                const struct ton_cell *payload, struct ton_cell **out, struct err *e) {
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, op, 32);
  if (!rc) rc = ton_builder_store_uint(&b, qid, 64);
  if (!rc) rc = ton_builder_store_addr(&b, excess);
  if (!rc) rc = ton_builder_store_bytes(&b, sig, 64);
  if (!rc) rc = ton_builder_store_ref(&b, (struct ton_cell *)payload);
  return end(&b, rc, "signed message", out, e);
}

int ton_cocoon_signed_cell(const struct ton_cocoon_signed *s, const struct ton_addr *excess, const uint8_t seed[32],
                           struct ton_cell **out, struct err *e) {
  int tokens = has_tokens(s->op);
  if (!tokens && s->op != TON_OP_PROXY_CLOSE_SIGNED && s->op != TON_OP_PROXY_CLOSE_COMPLETE_SIGNED)
    return err_set(e, ERR_INVALID, "cocoon: op %08x is not a signed message", (unsigned)s->op);
  struct ton_builder b;
  struct ton_cell *payload = NULL;
  ton_builder_init(&b);
  int rc = ton_builder_store_uint(&b, s->op, 32);
  if (!rc) rc = ton_builder_store_uint(&b, s->qid, 64);
  if (!rc && tokens) rc = ton_builder_store_uint(&b, s->tokens, 64);
  if (!rc) rc = ton_builder_store_addr(&b, &s->target);
  if ((rc = end(&b, rc, "signed payload", &payload, e))) return rc;
  uint8_t sig[64];
  if (ton_sign(seed, payload->hash, TON_HASH_LEN, sig)) {
    ton_cell_unref(payload);
    return err_set(e, ERR_CRYPTO, "cocoon: signing failed");
  }
  rc = wrap(s->op, s->qid, excess, sig, payload, out, e);
  ton_cell_unref(payload);
  return rc;
}

int ton_cocoon_signed_rewrap(const struct ton_cell *signed_msg, const struct ton_addr *excess, struct ton_cell **out,
                             struct err *e) {
  struct ton_slice s;
  uint64_t op, qid;
  struct ton_addr old;
  int none;
  uint8_t sig[64];
  const struct ton_cell *payload;
  ton_slice_init(&s, signed_msg);
  if (ton_slice_load_uint(&s, 32, &op) || ton_slice_load_uint(&s, 64, &qid) ||
      ton_slice_load_addr(&s, &old, &none) || ton_slice_load_bits(&s, 512, sig) ||
      ton_slice_load_ref(&s, &payload) || ton_slice_end(&s))
    return err_set(e, ERR_PARSE, "cocoon: not a signed message cell");
  return wrap((uint32_t)op, qid, excess, sig, payload, out, e);
}
