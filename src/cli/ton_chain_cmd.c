/* ton_chain_cmd: `cocoon ton` commands that talk to a chain through toncenter v2. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/ton_chain_cmd.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "chain/root.h"
#include "chain/toncenter.h"
#include "chain/wallet_key.h"
#include "http/http_client.h"
#include "loop/loop.h"
#include "ton/boc.h"
#include "ton/message.h"
#include "ton/sign.h"
#include "ton/wallet.h"
#include "ton/wallet_transfer.h"

#define API_KEY_MAX 256

void ton_chain_cmd_usage(void *file) {
  fprintf((FILE *)file,
          "  wallet-key --out FILE [--wallet v4r2|v5r1] [--testnet]\n"
          "      create a wallet private key (mode 0600) and print its public key and address\n"
          "  wallet-info --endpoint URL --key FILE --wallet v4r2|v5r1 [--testnet]\n"
          "  wallet-send --endpoint URL --key FILE --wallet v4r2|v5r1 [--testnet] --to ADDR --amount NANO\n"
          "      [--bounce] [--comment TEXT | --body-boc FILE] [--ttl SECONDS] [--boc-out FILE]\n"
          "      sign a transfer, send it (deploying the wallet with its first message) and wait until\n"
          "      it is applied, resending until valid_until passes\n"
          "  balance --endpoint URL ADDR            state and balance of an account\n"
          "  get-method --endpoint URL ADDR METHOD  run a get method, print the stack\n"
          "  send-boc --endpoint URL FILE           submit a binary BoC as it is\n"
          "  transactions --endpoint URL ADDR [--limit N]\n"
          "      every transaction of an account, newest first, fetched in pages of N (default 10)\n"
          "  root-info --endpoint URL ADDR [--summary | --get]\n"
          "      the root contract's state from its data: owner, version, params, allowlists, proxies;\n"
          "      --get: the scalar part from its get method get_cocoon_data instead\n"
          "  Chain commands take --api-key-file FILE or $TONCENTER_API_KEY, and --timeout SECONDS.\n");
}

struct opts {
  const char *endpoint, *key_file, *wallet, *to, *comment, *boc_out, *out, *api_key_file, *body_boc;
  const char *pos[3];
  int npos;
  int testnet, bounce, summary, get;
  unsigned limit;
  uint64_t amount;
  int has_amount;
  uint32_t ttl, timeout_s;
  char api_key[API_KEY_MAX];
};

static int parse_opts(int argc, char **argv, struct opts *o) {
  memset(o, 0, sizeof(*o));
  o->ttl = 60;
  o->timeout_s = 120;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    int64_t x;
    if (!strcmp(a, "--testnet")) o->testnet = 1;
    else if (!strcmp(a, "--summary")) o->summary = 1;
    else if (!strcmp(a, "--get")) o->get = 1;
    else if (!strcmp(a, "--bounce")) o->bounce = 1;
    else if (!v && !strncmp(a, "--", 2)) {
      fprintf(stderr, "cocoon ton %s: %s needs a value\n", argv[0], a);
      return 2;
    } else if (!strcmp(a, "--endpoint")) o->endpoint = argv[++i];
    else if (!strcmp(a, "--key")) o->key_file = argv[++i];
    else if (!strcmp(a, "--wallet")) o->wallet = argv[++i];
    else if (!strcmp(a, "--to")) o->to = argv[++i];
    else if (!strcmp(a, "--comment")) o->comment = argv[++i];
    else if (!strcmp(a, "--boc-out")) o->boc_out = argv[++i];
    else if (!strcmp(a, "--body-boc")) o->body_boc = argv[++i];
    else if (!strcmp(a, "--out")) o->out = argv[++i];
    else if (!strcmp(a, "--api-key-file")) o->api_key_file = argv[++i];
    else if (!strcmp(a, "--limit")) {
      if (util_parse_i64(argv[++i], 1, TONCENTER_MAX_TXS, &x)) {
        fprintf(stderr, "cocoon ton %s: --limit must be 1..%d\n", argv[0], TONCENTER_MAX_TXS);
        return 2;
      }
      o->limit = (unsigned)x;
    } else if (!strcmp(a, "--amount") || !strcmp(a, "--ttl") || !strcmp(a, "--timeout")) {
      if (util_parse_i64(argv[++i], 0, INT64_MAX, &x)) {
        fprintf(stderr, "cocoon ton %s: %s: not a non-negative integer: %s\n", argv[0], a, argv[i]);
        return 2;
      }
      if (!strcmp(a, "--amount")) {
        o->amount = (uint64_t)x;
        o->has_amount = 1;
      } else if (x < 1 || x > 86400) {
        fprintf(stderr, "cocoon ton %s: %s must be 1..86400\n", argv[0], a);
        return 2;
      } else if (!strcmp(a, "--ttl")) {
        o->ttl = (uint32_t)x;
      } else {
        o->timeout_s = (uint32_t)x;
      }
    } else if (!strncmp(a, "--", 2)) {
      fprintf(stderr, "cocoon ton %s: unknown option '%s'\n", argv[0], a);
      return 2;
    } else if (o->npos < 3) {
      o->pos[o->npos++] = a;
    } else {
      fprintf(stderr, "cocoon ton %s: too many arguments\n", argv[0]);
      return 2;
    }
  }
  const char *env = getenv("TONCENTER_API_KEY");
  if (o->api_key_file) {
    FILE *f = fopen(o->api_key_file, "r");
    size_t n = f ? fread(o->api_key, 1, sizeof(o->api_key) - 1, f) : 0;
    if (f) fclose(f);
    if (!f) {
      fprintf(stderr, "cocoon ton %s: cannot open %s: %s\n", argv[0], o->api_key_file, strerror(errno));
      return 1;
    }
    o->api_key[n] = '\0';
    while (n > 0 && (o->api_key[n - 1] == '\n' || o->api_key[n - 1] == '\r')) o->api_key[--n] = '\0';
  } else if (env) {
    snprintf(o->api_key, sizeof(o->api_key), "%s", env);
  }
  return 0;
}

/* ---- a loop with one toncenter client, run until a callback stops it ---- */

struct run {
  struct loop *loop;
  struct http_client *hc;
  struct toncenter *tc;
  struct loop_timer deadline;
  int rc; /* exit status */
  int timed_out;
  /* wallet-send state */
  const struct opts *o;
  struct ton_wallet w;
  struct ton_addr waddr;
  uint8_t seed[32];
  uint64_t balance;
  int active;
  /* transactions paging */
  struct ton_addr acct;
  uint64_t next_lt;
  uint8_t next_hash[32];
  unsigned listed;
};

static void deadline_cb(struct loop_timer *t) {
  struct run *r = t->data;
  r->timed_out = 1;
  r->rc = 1;
  fprintf(stderr, "cocoon ton: no answer within the timeout\n");
  loop_stop(r->loop);
}

static int run_open(struct run *r, const struct opts *o) {
  memset(r, 0, sizeof(*r));
  r->o = o;
  if (!o->endpoint) {
    fprintf(stderr, "cocoon ton: --endpoint URL is required\n");
    return 2;
  }
  struct toncenter_config cfg = {.endpoint = o->endpoint, .api_key = o->api_key[0] ? o->api_key : NULL,
                                 .timeout_ms = 15000};
  struct err e = {0};
  if (loop_new(&r->loop) || http_client_new(r->loop, NULL, &r->hc) ||
      toncenter_new(r->loop, r->hc, &cfg, &r->tc, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg[0] ? e.msg : "cannot start the HTTP client");
    return 1;
  }
  loop_timer_init(&r->deadline, deadline_cb, r);
  loop_timer_start(r->loop, &r->deadline, (uint64_t)o->timeout_s * 1000);
  return 0;
}

static int run_close(struct run *r) {
  if (r->loop) loop_timer_stop(r->loop, &r->deadline);
  toncenter_free(r->tc);
  http_client_free(r->hc);
  loop_free(r->loop);
  OPENSSL_cleanse(r->seed, sizeof(r->seed));
  return r->rc;
}

static void fail_run(struct run *r, const char *what, const char *msg) {
  fprintf(stderr, "cocoon ton: %s: %s\n", what, msg);
  r->rc = 1;
  loop_stop(r->loop);
}

static const char *state_name(enum toncenter_state s) {
  return s == TONCENTER_ACTIVE ? "active" : s == TONCENTER_FROZEN ? "frozen" : "uninitialized";
}

static int parse_addr_arg(const char *s, struct ton_addr *a) {
  struct err e = {0};
  if (!s || ton_addr_parse(s, a, NULL, &e)) {
    fprintf(stderr, "cocoon ton: bad address: %s\n", s ? e.msg : "missing");
    return 2;
  }
  return 0;
}

/* ---- balance ---- */

static void balance_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct run *r = arg;
  if (rc) { fail_run(r, "getAddressInformation", errmsg); return; }
  printf("state: %s\nbalance: %llu\nlast_lt: %llu\n", state_name(a->state), (unsigned long long)a->balance,
         (unsigned long long)a->last_lt);
  loop_stop(r->loop);
}

static int cmd_balance(const struct opts *o) {
  struct run r;
  struct ton_addr a;
  struct err e = {0};
  if (o->npos != 1) {
    fprintf(stderr, "usage: cocoon ton balance --endpoint URL ADDR\n");
    return 2;
  }
  int rc = parse_addr_arg(o->pos[0], &a);
  if (rc || (rc = run_open(&r, o))) return rc ? rc : run_close(&r);
  if (toncenter_get_account(r.tc, &a, balance_cb, &r, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg);
    r.rc = 1;
  } else {
    loop_run(r.loop);
  }
  return run_close(&r);
}

/* ---- get-method ---- */

static void stack_cb(int rc, const char *errmsg, const struct chain_tvm_stack *s, void *arg) {
  struct run *r = arg;
  if (rc) { fail_run(r, "runGetMethod", errmsg); return; }
  printf("exit_code: %d\n", s->exit_code);
  for (size_t i = 0; i < s->n; i++) {
    const struct chain_tvm_entry *v = &s->v[i];
    if (v->type == CHAIN_TVM_NUM) {
      char hex[67];
      size_t k = 0;
      while (k < 32 && !v->mag[k]) k++;
      util_hex(v->mag + k, 33 - k, hex);
      const char *h = hex;
      while (h[0] == '0' && h[1]) h++;
      uint64_t u;
      if (chain_tvm_get_u64(s, i, &u, NULL) == 0)
        printf("%zu: num %llu\n", i, (unsigned long long)u);
      else
        printf("%zu: num %s0x%s\n", i, v->neg ? "-" : "", h);
    } else if (v->type == CHAIN_TVM_NULL) {
      printf("%zu: null\n", i);
    } else {
      char hex[65];
      util_hex(v->cell->hash, 32, hex);
      printf("%zu: %s %s\n", i, v->type == CHAIN_TVM_CELL ? "cell" : "slice", hex);
    }
  }
  loop_stop(r->loop);
}

static int cmd_get_method(const struct opts *o) {
  struct run r;
  struct ton_addr a;
  struct err e = {0};
  if (o->npos != 2) {
    fprintf(stderr, "usage: cocoon ton get-method --endpoint URL ADDR METHOD\n");
    return 2;
  }
  int rc = parse_addr_arg(o->pos[0], &a);
  if (rc || (rc = run_open(&r, o))) return rc ? rc : run_close(&r);
  if (toncenter_run_get_method(r.tc, &a, o->pos[1], NULL, stack_cb, &r, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg);
    r.rc = 1;
  } else {
    loop_run(r.loop);
  }
  return run_close(&r);
}

/* ---- send-boc ---- */

static void sendboc_cb(int rc, const char *errmsg, void *arg) {
  struct run *r = arg;
  if (rc) { fail_run(r, "sendBoc", errmsg); return; }
  printf("accepted\n");
  loop_stop(r->loop);
}

static int read_all(const char *path, struct buf *b) {
  FILE *f = fopen(path, "rb");
  if (!f) return -1;
  uint8_t tmp[4096];
  size_t n;
  int rc = 0;
  while (!rc && (n = fread(tmp, 1, sizeof(tmp), f)) > 0) rc = buf_append(b, tmp, n);
  fclose(f);
  return rc;
}

static int cmd_send_boc(const struct opts *o) {
  struct run r;
  struct err e = {0};
  struct buf b;
  if (o->npos != 1) {
    fprintf(stderr, "usage: cocoon ton send-boc --endpoint URL FILE\n");
    return 2;
  }
  buf_init(&b, TON_BOC_MAX_BYTES);
  if (read_all(o->pos[0], &b)) {
    fprintf(stderr, "cocoon ton send-boc: cannot read %s\n", o->pos[0]);
    buf_free(&b);
    return 1;
  }
  int rc = run_open(&r, o);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  if (toncenter_send_boc(r.tc, buf_ptr(&b), b.len, sendboc_cb, &r, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg);
    r.rc = 1;
  } else {
    loop_run(r.loop);
  }
  buf_free(&b);
  return run_close(&r);
}

/* ---- transactions ---- */

static void page_cb(int rc, const char *errmsg, const struct toncenter_tx *txs, size_t n, void *arg) {
  struct run *r = arg;
  struct err e = {0};
  if (rc) {
    fail_run(r, "getTransactions", errmsg);
    return;
  }
  /* A page starts at the transaction it was asked for, which the previous page listed last. */
  size_t first = r->next_lt ? 1 : 0;
  for (size_t i = first; i < n; i++) {
    char hex[65], body[65];
    util_hex(txs[i].hash, 32, hex);
    util_hex(txs[i].in_body_hash, 32, body);
    printf("lt %llu hash %s utime %u fee %llu in %s value %llu body %s out %zu\n", (unsigned long long)txs[i].lt, hex,
           txs[i].utime, (unsigned long long)txs[i].fee,
           !txs[i].has_in_msg ? "none" : txs[i].in_external ? "external" : "internal",
           (unsigned long long)txs[i].in_value, txs[i].has_in_msg ? body : "-", txs[i].n_out);
    r->listed++;
  }
  if (n <= first || n < r->o->limit) {
    printf("transactions: %u\n", r->listed);
    loop_stop(r->loop);
    return;
  }
  r->next_lt = txs[n - 1].lt;
  memcpy(r->next_hash, txs[n - 1].hash, 32);
  if (toncenter_get_transactions(r->tc, &r->acct, r->o->limit, r->next_lt, r->next_hash, 0, page_cb, r, &e))
    fail_run(r, "getTransactions", e.msg);
}

static int cmd_transactions(struct opts *o) {
  struct run r;
  struct err e = {0};
  if (o->npos != 1) {
    fprintf(stderr, "usage: cocoon ton transactions --endpoint URL ADDR [--limit N]\n");
    return 2;
  }
  if (!o->limit) o->limit = 10;
  struct ton_addr a;
  int rc = parse_addr_arg(o->pos[0], &a);
  if (rc || (rc = run_open(&r, o))) return rc ? rc : run_close(&r);
  r.acct = a;
  if (o->limit < 2) {
    /* Each page repeats the previous page's last transaction, so a page must hold two. */
    o->limit = 2;
  }
  if (toncenter_get_transactions(r.tc, &a, o->limit, 0, NULL, 0, page_cb, &r, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg);
    r.rc = 1;
  } else {
    loop_run(r.loop);
  }
  return run_close(&r);
}

/* ---- root-info ---- */

static void print_hashes(const char *what, const uint8_t (*v)[32], size_t n) {
  printf("%s: %zu\n", what, n);
  for (size_t i = 0; i < n; i++) {
    char hex[65];
    util_hex(v[i], 32, hex);
    printf("  %s\n", hex);
  }
}

static void root_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct run *r = arg;
  struct err e = {0};
  if (rc) {
    fail_run(r, "getAddressInformation", errmsg);
    return;
  }
  if (a->state != TONCENTER_ACTIVE || !a->data) {
    fail_run(r, "root", "the root contract is not deployed (account not active)");
    return;
  }
  struct chain_root *root = calloc(1, sizeof(*root));
  if (!root || chain_root_parse_data(a->data, root, &e)) {
    fail_run(r, "root", root ? e.msg : "out of memory");
    free(root);
    return;
  }
  if (r->o->summary) {
    struct buf b;
    buf_init(&b, 0);
    if (chain_root_summary(root, &b) == 0) printf("%s\n", (const char *)buf_ptr(&b));
    buf_free(&b);
  } else {
    const struct chain_root_params *p = &root->params;
    char owner[TON_ADDR_RAW_MAX] = "none";
    if (root->has_owner) ton_addr_to_raw(&root->owner, owner, sizeof(owner));
    printf("owner: %s\nversion: %u\nparams_version: %u\nstruct_version: %u\nunique_id: %u\nis_test: %d\n"
           "price_per_token: %llu\nworker_fee_per_token: %llu\n"
           "multipliers: prompt %u cached %u completion %u reasoning %u\n"
           "delays: proxy %u client %u\nmin_stake: proxy %llu client %llu\nlast_proxy_seqno: %u\n",
           owner, root->version, p->params_version, p->struct_version, p->unique_id, p->is_test,
           (unsigned long long)p->price_per_token, (unsigned long long)p->worker_fee_per_token, p->prompt_mult,
           p->cached_mult, p->completion_mult, p->reasoning_mult, p->proxy_delay_before_close,
           p->client_delay_before_close, (unsigned long long)p->min_proxy_stake,
           (unsigned long long)p->min_client_stake, root->last_proxy_seqno);
    const struct chain_root *cr = root;
    print_hashes("proxy_hashes", cr->proxy_hashes, cr->n_proxy_hashes);
    print_hashes("worker_hashes", cr->worker_hashes, cr->n_worker_hashes);
    print_hashes("model_hashes", cr->model_hashes, cr->n_model_hashes);
    printf("proxies: %zu\n", root->n_proxies);
    for (size_t i = 0; i < root->n_proxies; i++) printf("  %u %s\n", root->proxies[i].seqno, root->proxies[i].addr);
  }
  free(root);
  loop_stop(r->loop);
}

static void root_get_cb(int rc, const char *errmsg, const struct chain_tvm_stack *s, void *arg) {
  struct run *r = arg;
  struct err e = {0};
  if (rc) {
    fail_run(r, "get_cocoon_data", errmsg);
    return;
  }
  struct chain_root *root = calloc(1, sizeof(*root));
  if (!root || chain_root_from_get_cocoon_data(s, root, &e)) {
    fail_run(r, "get_cocoon_data", root ? e.msg : "out of memory");
    free(root);
    return;
  }
  const struct chain_root_params *p = &root->params;
  char owner[TON_ADDR_RAW_MAX] = "none";
  if (root->has_owner) ton_addr_to_raw(&root->owner, owner, sizeof(owner));
  printf("owner: %s\nversion: %u\nparams_version: %u\nunique_id: %u\nis_test: %d\nprice_per_token: %llu\n"
         "worker_fee_per_token: %llu\nmin_stake: proxy %llu client %llu\nlast_proxy_seqno: %u\n",
         owner, root->version, p->params_version, p->unique_id, p->is_test, (unsigned long long)p->price_per_token,
         (unsigned long long)p->worker_fee_per_token, (unsigned long long)p->min_proxy_stake,
         (unsigned long long)p->min_client_stake, root->last_proxy_seqno);
  free(root);
  loop_stop(r->loop);
}

static int cmd_root_info(const struct opts *o) {
  struct run r;
  struct ton_addr a;
  struct err e = {0};
  if (o->npos != 1) {
    fprintf(stderr, "usage: cocoon ton root-info --endpoint URL ADDR [--summary | --get]\n");
    return 2;
  }
  int rc = parse_addr_arg(o->pos[0], &a);
  if (rc || (rc = run_open(&r, o))) return rc ? rc : run_close(&r);
  if (o->get ? toncenter_run_get_method(r.tc, &a, "get_cocoon_data", NULL, root_get_cb, &r, &e)
             : toncenter_get_account(r.tc, &a, root_cb, &r, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg);
    r.rc = 1;
  } else {
    loop_run(r.loop);
  }
  return run_close(&r);
}

/* ---- wallets ---- */

static int load_wallet(const struct opts *o, struct ton_wallet *w, struct ton_addr *a, uint8_t seed[32]) {
  enum ton_wallet_kind k;
  uint8_t pub[32];
  struct err e = {0};
  if (!o->key_file || !o->wallet) {
    fprintf(stderr, "cocoon ton: --key FILE and --wallet v4r2|v5r1 are required\n");
    return 2;
  }
  if (ton_wallet_kind_parse(o->wallet, &k)) {
    fprintf(stderr, "cocoon ton: unknown wallet '%s' (v4r2 or v5r1)\n", o->wallet);
    return 2;
  }
  if (chain_wallet_key_load(o->key_file, seed, &e) || ton_sign_pubkey(seed, pub) ||
      ton_wallet_init(w, k, 0, pub, o->testnet) || ton_wallet_address(w, a, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg[0] ? e.msg : "bad wallet key");
    return 1;
  }
  return 0;
}

static void print_wallet(const struct ton_wallet *w, const struct ton_addr *a, int testnet) {
  char hex[65], raw[TON_ADDR_RAW_MAX], nb[64];
  util_hex(w->pubkey, 32, hex);
  ton_addr_to_raw(a, raw, sizeof(raw));
  if (ton_addr_to_friendly(a, 0, testnet, 1, nb, sizeof(nb))) nb[0] = '\0';
  printf("public_key: %s\nwallet: %s\naddress: %s\nfriendly: %s\n", hex, ton_wallet_kind_name(w->kind), raw, nb);
}

static int cmd_wallet_key(const struct opts *o) {
  uint8_t seed[32], pub[32];
  struct err e = {0};
  struct ton_wallet w;
  struct ton_addr a;
  enum ton_wallet_kind k = TON_WALLET_V4R2;
  if (!o->out) {
    fprintf(stderr, "usage: cocoon ton wallet-key --out FILE [--wallet v4r2|v5r1] [--testnet]\n");
    return 2;
  }
  if (o->wallet && ton_wallet_kind_parse(o->wallet, &k)) {
    fprintf(stderr, "cocoon ton: unknown wallet '%s' (v4r2 or v5r1)\n", o->wallet);
    return 2;
  }
  int rc = chain_wallet_key_create(o->out, seed, &e);
  if (!rc && (ton_sign_pubkey(seed, pub) || ton_wallet_init(&w, k, 0, pub, o->testnet) ||
              ton_wallet_address(&w, &a, &e)))
    rc = ERR_CRYPTO;
  OPENSSL_cleanse(seed, sizeof(seed));
  if (rc) {
    fprintf(stderr, "cocoon ton wallet-key: %s\n", e.msg[0] ? e.msg : "failed");
    return 1;
  }
  print_wallet(&w, &a, o->testnet);
  printf("key: %s\n", o->out);
  return 0;
}

static void info_seqno_cb(int rc, const char *errmsg, const struct chain_tvm_stack *s, void *arg) {
  struct run *r = arg;
  uint64_t seqno;
  struct err e = {0};
  if (rc) { fail_run(r, "seqno", errmsg); return; }
  if (chain_tvm_get_u64(s, 0, &seqno, &e)) { fail_run(r, "seqno", e.msg); return; }
  printf("seqno: %llu\n", (unsigned long long)seqno);
  loop_stop(r->loop);
}

static void info_account_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct run *r = arg;
  struct err e = {0};
  if (rc) { fail_run(r, "getAddressInformation", errmsg); return; }
  printf("state: %s\nbalance: %llu\n", state_name(a->state), (unsigned long long)a->balance);
  if (a->state != TONCENTER_ACTIVE) {
    printf("seqno: 0\n");
    loop_stop(r->loop);
    return;
  }
  if (toncenter_run_get_method(r->tc, &r->waddr, "seqno", NULL, info_seqno_cb, r, &e)) fail_run(r, "seqno", e.msg);
}

static int cmd_wallet_info(const struct opts *o) {
  struct run r;
  struct ton_wallet w;
  struct ton_addr a;
  uint8_t seed[32];
  struct err e = {0};
  int rc = load_wallet(o, &w, &a, seed);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (rc) return rc;
  print_wallet(&w, &a, o->testnet);
  if ((rc = run_open(&r, o))) return rc;
  r.waddr = a;
  if (toncenter_get_account(r.tc, &a, info_account_cb, &r, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg);
    r.rc = 1;
  } else {
    loop_run(r.loop);
  }
  return run_close(&r);
}

static void sent_cb(int rc, const char *errmsg, const struct toncenter_tx *tx, void *arg) {
  struct run *r = arg;
  if (rc) { fail_run(r, "transfer", errmsg); return; }
  char hex[65];
  util_hex(tx->hash, 32, hex);
  printf("applied: lt %llu hash %s fee %llu\n", (unsigned long long)tx->lt, hex, (unsigned long long)tx->fee);
  loop_stop(r->loop);
}

static void send_with_seqno(struct run *r, uint32_t seqno) {
  const struct opts *o = r->o;
  struct err e = {0};
  struct ton_addr to;
  struct ton_cell *body = NULL, *msg = NULL, *tbody = NULL, *init = NULL, *ext = NULL, *ebody = NULL;
  struct buf boc;
  buf_init(&boc, 0);
  if (ton_addr_parse(o->to, &to, NULL, &e)) goto fail;
  if (o->comment && ton_comment_cell(o->comment, &body, &e)) goto fail;
  if (o->body_boc) {
    struct buf bb;
    buf_init(&bb, TON_BOC_MAX_BYTES);
    int brc = read_all(o->body_boc, &bb);
    if (brc) err_set(&e, ERR_IO, "cannot read %s", o->body_boc);
    else brc = ton_boc_parse_one(buf_ptr(&bb), bb.len, &body, &e);
    buf_free(&bb);
    if (brc) goto fail;
  }
  struct ton_int_msg m = {.bounce = o->bounce, .dest = to, .value = o->amount, .body = body};
  if (ton_int_msg_cell(&m, 0, &msg, &e)) goto fail;
  uint32_t valid_until = (uint32_t)util_wall_time() + o->ttl;
  struct ton_wallet_out out = {.mode = TON_SEND_MODE_PAY_FEES_SEPARATELY, .msg = msg};
  struct ton_wallet_transfer t = {.seqno = seqno, .valid_until = valid_until, .msgs = &out, .nmsgs = 1};
  if (ton_wallet_transfer_body(&r->w, &t, r->seed, &tbody, &e)) goto fail;
  if (!r->active && ton_wallet_state_init(&r->w, &init, &e)) goto fail;
  if (ton_ext_in_msg_cell(&r->waddr, init, tbody, 0, &ext, &e)) goto fail;
  if (toncenter_ext_body(ext, &ebody, &e)) goto fail;
  if (memcmp(ebody->hash, tbody->hash, 32)) {
    err_set(&e, ERR_INVALID, "the body read back from the message differs");
    goto fail;
  }
  if (ton_boc_serialize(ext, TON_BOC_CRC, &boc, &e)) goto fail;
  if (o->boc_out) {
    FILE *f = fopen(o->boc_out, "wb");
    if (!f || fwrite(buf_ptr(&boc), 1, boc.len, f) != boc.len) {
      if (f) fclose(f);
      err_set(&e, ERR_IO, "cannot write %s", o->boc_out);
      goto fail;
    }
    fclose(f);
  }
  printf("seqno: %u\nvalid_until: %u\ndeploy: %s\n", seqno, valid_until, r->active ? "no" : "yes");
  fflush(stdout);
  struct toncenter_send_opts so = {.valid_until = valid_until, .poll_ms = 300, .resend_ms = 5000};
  if (toncenter_send_external(r->tc, &r->waddr, buf_ptr(&boc), boc.len, tbody->hash, &so, sent_cb, r, NULL, &e))
    goto fail;
  goto out;
fail:
  fail_run(r, "transfer", e.msg);
out:
  buf_free(&boc);
  ton_cell_unref(body);
  ton_cell_unref(msg);
  ton_cell_unref(tbody);
  ton_cell_unref(init);
  ton_cell_unref(ext);
  ton_cell_unref(ebody);
}

static void send_seqno_cb(int rc, const char *errmsg, const struct chain_tvm_stack *s, void *arg) {
  struct run *r = arg;
  uint64_t seqno;
  struct err e = {0};
  if (rc) { fail_run(r, "seqno", errmsg); return; }
  if (chain_tvm_get_u64(s, 0, &seqno, &e) || seqno > UINT32_MAX) { fail_run(r, "seqno", e.msg); return; }
  send_with_seqno(r, (uint32_t)seqno);
}

static void send_account_cb(int rc, const char *errmsg, const struct toncenter_account *a, void *arg) {
  struct run *r = arg;
  struct err e = {0};
  if (rc) { fail_run(r, "getAddressInformation", errmsg); return; }
  if (a->balance < r->o->amount) {
    char msg[160];
    snprintf(msg, sizeof(msg), "the wallet holds %llu nano-TON, less than the %llu to send (fund it first)",
             (unsigned long long)a->balance, (unsigned long long)r->o->amount);
    { fail_run(r, "balance", msg); return; }
  }
  r->balance = a->balance;
  r->active = a->state == TONCENTER_ACTIVE;
  if (a->state == TONCENTER_FROZEN) { fail_run(r, "wallet", "the wallet account is frozen"); return; }
  if (!r->active) { send_with_seqno(r, 0); return; }
  if (toncenter_run_get_method(r->tc, &r->waddr, "seqno", NULL, send_seqno_cb, r, &e)) fail_run(r, "seqno", e.msg);
}

static int cmd_wallet_send(const struct opts *o) {
  struct run r;
  struct ton_wallet w;
  struct ton_addr a, to;
  uint8_t seed[32];
  struct err e = {0};
  if (!o->to || !o->has_amount) {
    fprintf(stderr, "cocoon ton wallet-send: --to ADDR and --amount NANO are required\n");
    return 2;
  }
  if (o->comment && o->body_boc) {
    fprintf(stderr, "cocoon ton wallet-send: --comment and --body-boc exclude each other\n");
    return 2;
  }
  int rc = parse_addr_arg(o->to, &to);
  if (!rc) rc = load_wallet(o, &w, &a, seed);
  if (rc) {
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
  }
  if ((rc = run_open(&r, o))) {
    OPENSSL_cleanse(seed, sizeof(seed));
    return rc;
  }
  r.w = w;
  r.waddr = a;
  memcpy(r.seed, seed, 32);
  OPENSSL_cleanse(seed, sizeof(seed));
  char raw[TON_ADDR_RAW_MAX];
  ton_addr_to_raw(&a, raw, sizeof(raw));
  printf("wallet: %s\n", raw);
  if (toncenter_get_account(r.tc, &a, send_account_cb, &r, &e)) {
    fprintf(stderr, "cocoon ton: %s\n", e.msg);
    r.rc = 1;
  } else {
    loop_run(r.loop);
  }
  return run_close(&r);
}

int ton_chain_cmd_main(int argc, char **argv) {
  static const char *const names[] = {"wallet-key", "wallet-info", "wallet-send", "balance", "get-method", "send-boc",
                                      "root-info", "transactions"};
  int which = -1;
  for (int i = 0; i < (int)CC_ARRAY_LEN(names); i++)
    if (!strcmp(argv[0], names[i])) which = i;
  if (which < 0) return -1;
  struct opts o;
  int rc = parse_opts(argc, argv, &o);
  if (rc) return rc;
  switch (which) {
    case 0: rc = cmd_wallet_key(&o); break;
    case 1: rc = cmd_wallet_info(&o); break;
    case 2: rc = cmd_wallet_send(&o); break;
    case 3: rc = cmd_balance(&o); break;
    case 4: rc = cmd_get_method(&o); break;
    case 5: rc = cmd_send_boc(&o); break;
    case 6: rc = cmd_root_info(&o); break;
    default: rc = cmd_transactions(&o); break;
  }
  OPENSSL_cleanse(o.api_key, sizeof(o.api_key));
  return rc;
}
