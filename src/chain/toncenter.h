/* toncenter: a toncenter v2 HTTP API client on the event loop (sendBoc, runGetMethod,
 * getAddressInformation, getTransactions) and resending of external messages until applied. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_TONCENTER_H
#define COCOON_CHAIN_TONCENTER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "chain/tvm_stack.h"
#include "ton/address.h"
#include "ton/cell.h"

struct loop;
struct http_client;
struct toncenter;
struct toncenter_send;

#define TONCENTER_DEFAULT_TIMEOUT_MS 10000u
#define TONCENTER_MAX_RESPONSE ((size_t)8 << 20)
#define TONCENTER_MAX_TXS 100 /* per getTransactions page */
#define TONCENTER_MAX_URL 2048
#define TONCENTER_CONFIRM_GRACE_S 300 /* polls may fail this long past valid_until */

struct toncenter_config {
  const char *endpoint; /* base URL with the API version, e.g. https://toncenter.com/api/v2 (copied) */
  const char *api_key;  /* NULL: none; sent as X-API-Key (copied, never logged or put in errors) */
  uint32_t timeout_ms;  /* whole request; 0: TONCENTER_DEFAULT_TIMEOUT_MS */
};

enum toncenter_state { TONCENTER_UNINIT = 0, TONCENTER_ACTIVE, TONCENTER_FROZEN };

/* getAddressInformation. Cells are owned by the struct and borrowed by the callback. */
struct toncenter_account {
  uint64_t balance; /* nano-TON */
  enum toncenter_state state;
  struct ton_cell *code, *data; /* NULL unless active */
  uint64_t last_lt;
  uint8_t last_hash[32];
  uint32_t sync_utime;
};

/* One transaction of getTransactions (the fields a settlement backend watches). */
struct toncenter_tx {
  uint64_t lt;
  uint8_t hash[32];
  uint32_t utime;
  uint64_t fee;
  int has_in_msg;
  int in_external;    /* the in-message is an external one (no source) */
  uint64_t in_value;  /* nano-TON carried by an internal in-message */
  char in_source[72]; /* friendly or raw as toncenter wrote it; "" for externals */
  uint8_t in_body_hash[32];
  struct ton_cell *in_body; /* the in-message body when given (owned by the page), else NULL */
  size_t n_out;
};

/* rc 0 on success; otherwise a negative code and a message for the user:
 *   ERR_TIMEOUT / ERR_IO  transport (curl's reason), ERR_PROTO a non-JSON or malformed answer,
 *   ERR_REFUSED toncenter said ok:false (its error text and HTTP status), ERR_CLOSED never
 *   (callbacks do not run after toncenter_free). */
typedef void (*toncenter_done_cb)(int rc, const char *errmsg, void *arg);
typedef void (*toncenter_stack_cb)(int rc, const char *errmsg, const struct chain_tvm_stack *s, void *arg);
typedef void (*toncenter_account_cb)(int rc, const char *errmsg, const struct toncenter_account *a, void *arg);
typedef void (*toncenter_txs_cb)(int rc, const char *errmsg, const struct toncenter_tx *txs, size_t n, void *arg);

/* hc is borrowed (one http_client per loop) and must outlive t. */
CC_NODISCARD int toncenter_new(struct loop *l, struct http_client *hc, const struct toncenter_config *cfg,
                               struct toncenter **out, struct err *e);
/* Cancels everything in flight; no callback runs afterwards. Not from inside a callback of t.
 * NULL-safe. */
void toncenter_free(struct toncenter *t);

/* POST sendBoc {"boc": base64}. Success means "accepted by the node", not "applied": watch the
 * transactions (or use toncenter_send_external). */
CC_NODISCARD int toncenter_send_boc(struct toncenter *t, const uint8_t *boc, size_t len, toncenter_done_cb cb,
                                    void *arg, struct err *e);
/* POST runGetMethod {"address", "method", "stack"}; stack_json is a toncenter stack array
 * ("[]" when NULL). A non-zero exit code is an error (ERR_REFUSED). */
CC_NODISCARD int toncenter_run_get_method(struct toncenter *t, const struct ton_addr *a, const char *method,
                                          const char *stack_json, toncenter_stack_cb cb, void *arg, struct err *e);
CC_NODISCARD int toncenter_get_account(struct toncenter *t, const struct ton_addr *a, toncenter_account_cb cb,
                                       void *arg, struct err *e);
/* Newest first, at most limit (<= TONCENTER_MAX_TXS). from_lt/from_hash (0/NULL: the newest)
 * start the page at that transaction; to_lt (0: none) stops before it. */
CC_NODISCARD int toncenter_get_transactions(struct toncenter *t, const struct ton_addr *a, unsigned limit,
                                            uint64_t from_lt, const uint8_t *from_hash, uint64_t to_lt,
                                            toncenter_txs_cb cb, void *arg, struct err *e);

/* Resend-with-expiry for an external message: sends the BoC, then every poll_ms looks at the
 * destination's recent transactions for one whose in-message body hash is body_hash, sending
 * again every resend_ms. It ends with that transaction (rc 0); with ERR_TIMEOUT once the wall
 * clock passed valid_until and one more successful look found nothing; or with ERR_TIMEOUT
 * "cannot tell" when polls still fail TONCENTER_CONFIRM_GRACE_S after valid_until. A refusal
 * by sendBoc is not final (a replay of an applied message is refused too): only the
 * transaction log decides. */
struct toncenter_send_opts {
  uint32_t valid_until; /* unix time, as signed into the message */
  uint32_t poll_ms;     /* 0: 1000 */
  uint32_t resend_ms;   /* 0: 30000 */
};
typedef void (*toncenter_sent_cb)(int rc, const char *errmsg, const struct toncenter_tx *tx, void *arg);
CC_NODISCARD int toncenter_send_external(struct toncenter *t, const struct ton_addr *dest, const uint8_t *boc,
                                         size_t len, const uint8_t body_hash[32],
                                         const struct toncenter_send_opts *o, toncenter_sent_cb cb, void *arg,
                                         struct toncenter_send **out, struct err *e);
/* Stops watching; its callback does not run. Not from inside its own callback. */
void toncenter_send_cancel(struct toncenter_send *s);

/* The parsers behind the callbacks, for answers obtained elsewhere (and fuzzing). They take
 * the `result` of an answer (borrowed). toncenter_account_clear and toncenter_txs_free release
 * what they fill, also after a failure. */
CC_NODISCARD int toncenter_account_from_json(json_t *result, struct toncenter_account *out, struct err *e);
void toncenter_account_clear(struct toncenter_account *a);
CC_NODISCARD int toncenter_txs_from_json(json_t *result, struct toncenter_tx **txs, size_t *n, struct err *e);
void toncenter_txs_free(struct toncenter_tx *txs, size_t n);
/* The envelope {"ok":true,"result":R} or {"ok":false,"error":...}: *result borrows from *root
 * (caller json_decref's *root, also after a failure). http_status only goes into messages. */
CC_NODISCARD int toncenter_envelope(const char *body, size_t len, int http_status, json_t **root, json_t **result,
                                    struct err *e);

/* The body of an external-in message cell (inline or in a ref) as a cell; for body_hash above.
 * Caller unrefs *out. */
CC_NODISCARD int toncenter_ext_body(const struct ton_cell *ext_msg, struct ton_cell **out, struct err *e);

#endif
