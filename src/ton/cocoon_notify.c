/* cocoon_notify: messages COCOON contracts send (to the proxy contract, to owners), parsed from
 * transactions a node watches. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "ton/cocoon_notify.h"

#include <string.h>

#include "ton/cocoon_msg.h"

static int load_addr_opt(struct ton_slice *s, struct ton_addr *a, int *has) {
  int none = 0;
  if (ton_slice_load_addr(s, a, &none)) return ERR_PARSE;
  *has = !none;
  return 0;
}

static int coins(struct ton_slice *s, uint64_t *v, struct err *e, const char *what) {
  int rc = ton_slice_load_coins(s, v);
  if (rc == ERR_LIMIT) return err_set(e, ERR_LIMIT, "cocoon: %s beyond 64 bits", what);
  if (rc) return err_set(e, ERR_PARSE, "cocoon: bad %s", what);
  return 0;
}

static int worker_payload(const struct ton_cell *c, struct ton_cocoon_notify *n, struct err *e) {
  struct ton_slice s;
  uint64_t op;
  int rc;
  ton_slice_init(&s, c);
  if (ton_slice_load_uint(&s, 32, &op) || op != TON_OP_WORKER_PROXY_PAYOUT)
    return err_set(e, ERR_PARSE, "cocoon: unknown worker payload op");
  n->payload_op = (uint32_t)op;
  if ((rc = coins(&s, &n->coins, e, "coins_to_pay")) || (rc = coins(&s, &n->coins_to_save, e, "coins_to_save")))
    return rc;
  if (load_addr_opt(&s, &n->excess, &n->has_excess) || ton_slice_end(&s))
    return err_set(e, ERR_PARSE, "cocoon: bad worker payout payload");
  return 0;
}

static int client_payload(const struct ton_cell *c, struct ton_cocoon_notify *n, struct err *e) {
  struct ton_slice s;
  uint64_t op;
  int rc;
  ton_slice_init(&s, c);
  if (ton_slice_load_uint(&s, 32, &op)) return err_set(e, ERR_PARSE, "cocoon: empty client payload");
  n->payload_op = (uint32_t)op;
  switch (op) {
    case TON_OP_CLIENT_PROXY_REGISTER:
      if (ton_slice_load_uint(&s, 64, &n->nonce)) return err_set(e, ERR_PARSE, "cocoon: register without a nonce");
      break;
    case TON_OP_CLIENT_PROXY_TOP_UP:
    case TON_OP_CLIENT_PROXY_REFUND_GRANTED:
    case TON_OP_CLIENT_PROXY_REFUND_FORCE:
      if ((rc = coins(&s, &n->coins, e, "payload coins"))) return rc;
      if (load_addr_opt(&s, &n->excess, &n->has_excess)) return err_set(e, ERR_PARSE, "cocoon: bad excess address");
      break;
    default: return err_set(e, ERR_PARSE, "cocoon: unknown client payload op %08x", (unsigned)op);
  }
  if (ton_slice_end(&s)) return err_set(e, ERR_PARSE, "cocoon: extra bits or refs in the client payload");
  return 0;
}

int ton_cocoon_notify_parse(const struct ton_cell *body, struct ton_cocoon_notify *n, struct err *e) {
  struct ton_slice s;
  uint64_t op = 0, v;
  const struct ton_cell *payload = NULL, *st = NULL;
  int rc;
  memset(n, 0, sizeof(*n));
  ton_slice_init(&s, body);
  if (ton_slice_load_uint(&s, 32, &op) || ton_slice_load_uint(&s, 64, &n->qid)) {
    n->qid = 0;
    if (op == TON_OP_EXCESSES || op == TON_OP_PAYOUT || op == TON_OP_WORKER_PROXY_REQUEST ||
        op == TON_OP_CLIENT_PROXY_REQUEST)
      return err_set(e, ERR_PARSE, "cocoon: message too short for op and query id");
    return err_set(e, ERR_NOTFOUND, "cocoon: not a contract notification");
  }
  n->op = (uint32_t)op;
  switch (op) {
    case TON_OP_EXCESSES:
    case TON_OP_PAYOUT:
      /* The contracts may append a comment; only op and qid matter. */
      return 0;
    case TON_OP_WORKER_PROXY_REQUEST:
      if (load_addr_opt(&s, &n->owner, &n->has_owner) || ton_slice_load_uint(&s, 2, &v) ||
          ton_slice_load_uint(&s, 64, &n->tokens) || ton_slice_load_maybe_ref(&s, &payload) || ton_slice_end(&s))
        return err_set(e, ERR_PARSE, "cocoon: malformed worker_proxy_request");
      n->state = (unsigned)v;
      return payload ? worker_payload(payload, n, e) : 0;
    case TON_OP_CLIENT_PROXY_REQUEST: {
      if (load_addr_opt(&s, &n->owner, &n->has_owner) || ton_slice_load_ref(&s, &st) ||
          ton_slice_load_maybe_ref(&s, &payload) || ton_slice_end(&s))
        return err_set(e, ERR_PARSE, "cocoon: malformed client_proxy_request");
      struct ton_slice ss;
      ton_slice_init(&ss, st);
      if (ton_slice_load_uint(&ss, 2, &v)) return err_set(e, ERR_PARSE, "cocoon: client state missing");
      n->state = (unsigned)v;
      if ((rc = coins(&ss, &n->balance, e, "client balance")) || (rc = coins(&ss, &n->stake, e, "client stake")))
        return rc;
      if (ton_slice_load_uint(&ss, 64, &n->tokens) || ton_slice_load_bits(&ss, 256, n->secret) || ton_slice_end(&ss))
        return err_set(e, ERR_PARSE, "cocoon: malformed client state cell");
      return payload ? client_payload(payload, n, e) : 0;
    }
    default: return err_set(e, ERR_NOTFOUND, "cocoon: op %08x is not a contract notification", (unsigned)op);
  }
}
