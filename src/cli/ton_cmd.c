/* ton_cmd: `cocoon ton`: wallet addresses, BoC dumps, address parsing, and the oracle check. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/ton_cmd.h"

#include "cli/ton_chain_cmd.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "chain/b64.h"
#include "base/util.h"
#include "chain/root.h"
#include "ledger/ledger.h"
#include "ton/address.h"
#include "ton/boc.h"
#include "ton/cell.h"
#include "ton/cocoon_msg.h"
#include "ton/cocoon_notify.h"
#include "ton/message.h"
#include "ton/payment.h"
#include "ton/sign.h"
#include "ton/wallet.h"
#include "ton/wallet_transfer.h"

/* Largest file `ton boc` reads: a BoC at its limit written as hex, plus whitespace. */
#define TON_CMD_MAX_FILE (TON_BOC_MAX_BYTES * 2 + 4096)
/* Longest JSON line of the oracle file. */
#define TON_CMD_MAX_LINE ((size_t)16 << 20)

static void usage(FILE *f) {
  fprintf(f,
          "usage: cocoon ton <command> ...\n"
          "  address --pubkey HEX --wallet v4r2|v5r1 [--testnet] [--workchain N]\n"
          "      the wallet's raw and friendly addresses (bounceable and non-bounceable)\n"
          "  boc FILE      print the cell tree of a BoC (binary, hex or base64 file; - for stdin)\n"
          "  parse-address ADDR\n"
          "      workchain, hash, flags and every form of a raw or friendly address\n"
          "  sign-payment --key FILE --op charge|grant-refund|payout|last-payout --query-id N --total N\n"
          "               --target ADDR [--excess ADDR] [--base64]\n"
          "      a proxy-signed cumulative payment for a client or worker contract, as a BoC\n");
  ton_chain_cmd_usage(f);
}

/* ---- small helpers ---- */

static int hexval(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Decodes an even-length hex string of any size into a malloc'd buffer (caller frees). */
static int unhex_alloc(const char *s, size_t slen, uint8_t **out, size_t *n) {
  *out = NULL;
  *n = 0;
  if (slen % 2) return ERR_PARSE;
  uint8_t *p = malloc(slen / 2 + 1);
  if (!p) return ERR_NOMEM;
  for (size_t i = 0; i < slen / 2; i++) {
    int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);
    if (hi < 0 || lo < 0) {
      free(p);
      return ERR_PARSE;
    }
    p[i] = (uint8_t)(hi << 4 | lo);
  }
  *out = p;
  *n = slen / 2;
  return 0;
}

/* Reads a whole file (or stdin for "-") up to max bytes; caller frees *out. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *n, struct err *e) {
  FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
  if (!f) return err_set(e, ERR_IO, "cannot open %s: %s", path, strerror(errno));
  struct buf b;
  buf_init(&b, max + 1);
  int rc = 0;
  for (;;) {
    rc = buf_reserve(&b, 65536);
    if (rc) {
      rc = err_set(e, rc, "%s is larger than %zu bytes", path, max);
      break;
    }
    size_t got = fread(buf_tail(&b), 1, 65536, f);
    buf_added(&b, got);
    if (b.len > max) {
      rc = err_set(e, ERR_LIMIT, "%s is larger than %zu bytes", path, max);
      break;
    }
    if (got == 0) {
      if (ferror(f)) rc = err_set(e, ERR_IO, "cannot read %s", path);
      break;
    }
  }
  if (f != stdin) fclose(f);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *out = buf_steal(&b, n);
  return 0;
}

/* A BoC given as raw bytes, hex text or base64 text (surrounding whitespace ignored). */
static int decode_boc_file(uint8_t *p, size_t n, uint8_t **out, size_t *outn, const char **what) {
  if (n >= 4 && ((p[0] == 0xb5 && p[1] == 0xee) || (p[0] == 0x68 && p[1] == 0xff) ||
                 (p[0] == 0xac && p[1] == 0xc3))) {
    *out = malloc(n ? n : 1);
    if (!*out) return ERR_NOMEM;
    memcpy(*out, p, n);
    *outn = n;
    *what = "binary";
    return 0;
  }
  /* Text: drop all whitespace. */
  size_t m = 0;
  for (size_t i = 0; i < n; i++)
    if (p[i] != ' ' && p[i] != '\n' && p[i] != '\r' && p[i] != '\t') p[m++] = p[i];
  int allhex = m > 0;
  for (size_t i = 0; i < m && allhex; i++) allhex = hexval(p[i]) >= 0;
  if (allhex && m % 2 == 0) {
    *what = "hex";
    return unhex_alloc((const char *)p, m, out, outn);
  }
  *what = "base64";
  struct buf b;
  buf_init(&b, n + 4);
  int rc = chain_b64_decode((const char *)p, m, &b);
  if (rc) {
    buf_free(&b);
    return rc;
  }
  *out = buf_steal(&b, outn);
  return 0;
}

static void print_friendly_forms(const struct ton_addr *a, int testnet, const char *indent) {
  char b[64], nb[64];
  if (ton_addr_to_friendly(a, 1, testnet, 1, b, sizeof(b)) ||
      ton_addr_to_friendly(a, 0, testnet, 1, nb, sizeof(nb)))
    return;
  printf("%sfriendly_bounceable%s: %s\n%sfriendly_non_bounceable%s: %s\n", indent,
         testnet ? "_testnet" : "", b, indent, testnet ? "_testnet" : "", nb);
}

/* ---- ton address ---- */

static int cmd_address(int argc, char **argv) {
  const char *pubhex = NULL, *kind_s = NULL;
  int testnet = 0;
  int64_t wc = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--pubkey") && i + 1 < argc) pubhex = argv[++i];
    else if (!strcmp(argv[i], "--wallet") && i + 1 < argc) kind_s = argv[++i];
    else if (!strcmp(argv[i], "--testnet")) testnet = 1;
    else if (!strcmp(argv[i], "--workchain") && i + 1 < argc) {
      if (util_parse_i64(argv[++i], -128, 127, &wc) != 0) {
        fprintf(stderr, "cocoon ton address: --workchain must be an integer in -128..127\n");
        return 2;
      }
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: cocoon ton address --pubkey HEX --wallet v4r2|v5r1 [--testnet] [--workchain N]\n"
             "Prints the address of the standard wallet for an Ed25519 public key (64 hex digits),\n"
             "with the default wallet id @ton/ton uses (v4r2: 698983191 + workchain; v5r1: network\n"
             "id -239, or -3 with --testnet, XOR the client context, subwallet 0).\n");
      return 0;
    } else {
      fprintf(stderr, "cocoon ton address: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (!pubhex || !kind_s) {
    fprintf(stderr, "cocoon ton address: --pubkey and --wallet are required\n");
    return 2;
  }
  enum ton_wallet_kind kind;
  if (ton_wallet_kind_parse(kind_s, &kind) != 0) {
    fprintf(stderr, "cocoon ton address: unknown wallet '%s' (want v4r2 or v5r1)\n", kind_s);
    return 2;
  }
  uint8_t pk[32];
  if (strlen(pubhex) != 64 || util_unhex(pubhex, 64, pk, 32) != 0) {
    fprintf(stderr, "cocoon ton address: --pubkey must be 64 hex digits (32 bytes), got %zu characters\n",
            strlen(pubhex));
    return 2;
  }
  struct ton_wallet w;
  struct ton_addr a;
  struct err e = {0};
  if (ton_wallet_init(&w, kind, (int)wc, pk, testnet) != 0 || ton_wallet_address(&w, &a, &e) != 0) {
    fprintf(stderr, "cocoon ton address: %s\n", e.msg[0] ? e.msg : "cannot derive the address");
    return 1;
  }
  char raw[TON_ADDR_RAW_MAX], pkh[65];
  ton_addr_to_raw(&a, raw, sizeof(raw));
  util_hex(pk, 32, pkh);
  printf("wallet: %s\nworkchain: %d\nwallet_id: %u\npublic_key: %s\nnetwork: %s\nraw: %s\n",
         ton_wallet_kind_name(kind), (int)wc, w.wallet_id, pkh, testnet ? "testnet" : "mainnet", raw);
  print_friendly_forms(&a, testnet, "");
  return 0;
}

/* ---- ton parse-address ---- */

static int cmd_parse_address(int argc, char **argv) {
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: cocoon ton parse-address ADDR   (raw wc:hex or 48-character friendly form)\n");
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: cocoon ton parse-address ADDR\n");
    return 2;
  }
  struct ton_addr a;
  struct ton_addr_form f;
  struct err e = {0};
  if (ton_addr_parse(argv[1], &a, &f, &e) != 0) {
    fprintf(stderr, "cocoon ton parse-address: %s\n", e.msg);
    return 1;
  }
  char raw[TON_ADDR_RAW_MAX], hash[65];
  ton_addr_to_raw(&a, raw, sizeof(raw));
  util_hex(a.hash, 32, hash);
  printf("workchain: %d\nhash: %s\nform: %s\n", (int)a.wc, hash,
         f.friendly ? (f.urlsafe ? "friendly (base64url)" : "friendly (base64)") : "raw");
  if (f.friendly)
    printf("bounceable: %s\ntestnet: %s\n", f.bounceable ? "yes" : "no", f.testnet ? "yes" : "no");
  else
    printf("bounceable: n/a (raw form)\ntestnet: n/a (raw form)\n");
  printf("raw: %s\n", raw);
  print_friendly_forms(&a, 0, "");
  print_friendly_forms(&a, 1, "");
  return 0;
}

/* ---- ton boc ---- */

/* Cells already printed, by hash (open addressing, 2 * TON_BOC_MAX_CELLS slots). */
#define DUMP_SLOTS (2 * (size_t)TON_BOC_MAX_CELLS)
struct dump {
  const struct ton_cell **shown;
  size_t *ids;
  size_t nshown;
};

static size_t dump_slot(const struct dump *d, const struct ton_cell *c) {
  uint64_t h;
  memcpy(&h, c->hash, sizeof(h));
  size_t i = (size_t)h % DUMP_SLOTS;
  while (d->shown[i] && memcmp(d->shown[i]->hash, c->hash, TON_HASH_LEN)) i = (i + 1) % DUMP_SLOTS;
  return i;
}

static int dump_cell(struct dump *d, const struct ton_cell *c, unsigned indent) {
  char hash[65], data[2 * TON_CELL_MAX_BYTES + 2];
  util_hex(c->hash, TON_HASH_LEN, hash);
  size_t slot = dump_slot(d, c);
  if (d->shown[slot]) {
    printf("%*s#%zu (shared, shown above) %s\n", (int)indent * 2, "", d->ids[slot], hash);
    return 0;
  }
  if (d->nshown >= TON_BOC_MAX_CELLS) return ERR_LIMIT;
  size_t id = d->nshown++;
  d->shown[slot] = c;
  d->ids[slot] = id;
  ton_cell_data_hex(c, data, sizeof(data));
  printf("%*s#%zu %u bits, %u refs, depth %u, hash %s\n%*s  x{%s}\n", (int)indent * 2, "", id,
         (unsigned)c->bits, (unsigned)c->nrefs, (unsigned)c->depth, hash, (int)indent * 2, "", data);
  for (unsigned i = 0; i < c->nrefs; i++) {
    int rc = dump_cell(d, c->refs[i], indent + 1);
    if (rc) return rc;
  }
  return 0;
}

static int cmd_boc(int argc, char **argv) {
  if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
    printf("usage: cocoon ton boc FILE\nPrints each root's cell tree: bits, refs, depth, hash and data\n"
           "(TON hex notation, '_' marks a completion tag). FILE holds the BoC as bytes, hex or base64;\n"
           "'-' reads standard input.\n");
    return 0;
  }
  if (argc != 2) {
    fprintf(stderr, "usage: cocoon ton boc FILE\n");
    return 2;
  }
  struct err e = {0};
  uint8_t *file = NULL, *boc = NULL;
  size_t flen = 0, blen = 0, nroots = 0;
  struct ton_cell *roots[TON_BOC_MAX_ROOTS];
  struct dump d = {0};
  const char *what = "?";
  int ret = 1;
  if (read_file(argv[1], TON_CMD_MAX_FILE, &file, &flen, &e) != 0) {
    fprintf(stderr, "cocoon ton boc: %s\n", e.msg);
    return 1;
  }
  if (decode_boc_file(file, flen, &boc, &blen, &what) != 0) {
    fprintf(stderr, "cocoon ton boc: %s is neither a binary BoC nor hex nor base64 text\n", argv[1]);
    goto out;
  }
  if (ton_boc_parse(boc, blen, roots, TON_BOC_MAX_ROOTS, &nroots, &e) != 0) {
    fprintf(stderr, "cocoon ton boc: %s (%s input, %zu bytes)\n", e.msg, what, blen);
    goto out;
  }
  d.shown = calloc(DUMP_SLOTS, sizeof(*d.shown));
  d.ids = calloc(DUMP_SLOTS, sizeof(*d.ids));
  if (!d.shown || !d.ids) {
    fprintf(stderr, "cocoon ton boc: out of memory\n");
    goto release;
  }
  printf("boc: %zu bytes (%s), %zu root%s\n", blen, what, nroots, nroots == 1 ? "" : "s");
  for (size_t i = 0; i < nroots; i++) {
    char hash[65];
    util_hex(roots[i]->hash, TON_HASH_LEN, hash);
    printf("root %zu: hash %s\n", i, hash);
    if (dump_cell(&d, roots[i], 1) != 0) {
      fprintf(stderr, "cocoon ton boc: too many cells to print\n");
      goto release;
    }
  }
  ret = 0;
release:
  for (size_t i = 0; i < nroots; i++) ton_cell_unref(roots[i]);
out:
  free(d.shown);
  free(d.ids);
  free(file);
  free(boc);
  return ret;
}

/* ---- ton sign-payment ---- */

static const struct {
  const char *name;
  uint32_t op;
} payment_ops[] = {{"charge", TON_OP_CLIENT_CHARGE_SIGNED},
                   {"grant-refund", TON_OP_CLIENT_GRANT_REFUND_SIGNED},
                   {"payout", TON_OP_WORKER_PAYOUT_SIGNED},
                   {"last-payout", TON_OP_WORKER_LAST_PAYOUT_SIGNED}};

static int cmd_sign_payment(int argc, char **argv) {
  const char *key = NULL, *op_s = NULL, *qid_s = NULL, *total_s = NULL, *target_s = NULL, *excess_s = NULL;
  int b64 = 0;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--key") && i + 1 < argc) key = argv[++i];
    else if (!strcmp(argv[i], "--op") && i + 1 < argc) op_s = argv[++i];
    else if (!strcmp(argv[i], "--query-id") && i + 1 < argc) qid_s = argv[++i];
    else if (!strcmp(argv[i], "--total") && i + 1 < argc) total_s = argv[++i];
    else if (!strcmp(argv[i], "--target") && i + 1 < argc) target_s = argv[++i];
    else if (!strcmp(argv[i], "--excess") && i + 1 < argc) excess_s = argv[++i];
    else if (!strcmp(argv[i], "--base64")) b64 = 1;
    else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: cocoon ton sign-payment --key FILE --op charge|grant-refund|payout|last-payout\n"
             "                              --query-id N --total N --target ADDR [--excess ADDR] [--base64]\n"
             "Signs a cumulative token total for the client or worker contract at ADDR with the proxy key in\n"
             "FILE (a PEM Ed25519 key such as `cocoon keygen` writes, or 64 hex digits of seed) and prints\n"
             "the message body as a BoC (hex, or base64 with --base64), as the proxy hands it out:\n"
             "  op query_id excess signature ^(op query_id total target), signature over the payload hash.\n"
             "--excess names where the contract returns unused TON (default: the sender).\n");
      return 0;
    } else {
      fprintf(stderr, "cocoon ton sign-payment: unknown option '%s' (see --help)\n", argv[i]);
      return 2;
    }
  }
  if (!key || !op_s || !qid_s || !total_s || !target_s) {
    fprintf(stderr, "cocoon ton sign-payment: --key, --op, --query-id, --total and --target are required\n");
    return 2;
  }
  struct ton_payment pay = {0};
  size_t k;
  for (k = 0; k < CC_ARRAY_LEN(payment_ops); k++)
    if (!strcmp(op_s, payment_ops[k].name)) break;
  if (k == CC_ARRAY_LEN(payment_ops)) {
    fprintf(stderr, "cocoon ton sign-payment: unknown op '%s' (want charge, grant-refund, payout or last-payout)\n",
            op_s);
    return 2;
  }
  pay.op = payment_ops[k].op;
  int64_t qid, total;
  if (util_parse_i64(qid_s, 0, INT64_MAX, &qid) || util_parse_i64(total_s, 0, INT64_MAX, &total)) {
    fprintf(stderr, "cocoon ton sign-payment: --query-id and --total must be integers in 0..%lld\n",
            (long long)INT64_MAX);
    return 2;
  }
  pay.qid = (uint64_t)qid;
  pay.tokens = (uint64_t)total;
  struct err e = {0};
  struct ton_addr excess;
  if (ton_addr_parse(target_s, &pay.target, NULL, &e) || (excess_s && ton_addr_parse(excess_s, &excess, NULL, &e))) {
    fprintf(stderr, "cocoon ton sign-payment: %s\n", e.msg);
    return 2;
  }
  uint8_t seed[LEDGER_KEY_SIZE];
  if (ledger_key_load(key, seed, &e)) {
    fprintf(stderr, "cocoon ton sign-payment: %s\n", e.msg);
    return 1;
  }
  struct buf out;
  buf_init(&out, TON_PAYMENT_MAX_BOC * 2);
  int rc = ton_payment_sign(&pay, excess_s ? &excess : NULL, seed, &out, &e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (rc) {
    fprintf(stderr, "cocoon ton sign-payment: %s\n", e.msg);
    buf_free(&out);
    return 1;
  }
  const uint8_t *p = buf_ptr(&out);
  if (b64) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < out.len; i += 3) {
      uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < out.len ? (uint32_t)p[i + 1] << 8 : 0) |
                   (i + 2 < out.len ? p[i + 2] : 0);
      putchar(tbl[v >> 18 & 63]);
      putchar(tbl[v >> 12 & 63]);
      putchar(i + 1 < out.len ? tbl[v >> 6 & 63] : '=');
      putchar(i + 2 < out.len ? tbl[v & 63] : '=');
    }
  } else {
    for (size_t i = 0; i < out.len; i++) printf("%02x", p[i]);
  }
  putchar('\n');
  buf_free(&out);
  return 0;
}

/* ---- ton selftest-oracle (hidden): compare with @ton/core's cases, see tests/ton ---- */

struct oracle {
  unsigned cases, checks, failures;
  const char *name;
};

static void fail(struct oracle *o, const char *what, const char *want, const char *got) {
  o->failures++;
  fprintf(stderr, "MISMATCH %s: %s\n  want %.300s\n  got  %.300s\n", o->name, what, want ? want : "(none)",
          got ? got : "(none)");
}

static void check_str(struct oracle *o, const char *what, const char *want, const char *got) {
  o->checks++;
  if (!want || !got || strcmp(want, got)) fail(o, what, want, got);
}

static void check_hash(struct oracle *o, const char *what, const char *want_hex, const uint8_t *hash) {
  char got[65];
  util_hex(hash, 32, got);
  check_str(o, what, want_hex, got);
}

static void check_int(struct oracle *o, const char *what, long long want, long long got) {
  char w[32], g[32];
  snprintf(w, sizeof(w), "%lld", want);
  snprintf(g, sizeof(g), "%lld", got);
  check_str(o, what, w, g);
}

static const char *jstr(json_t *obj, const char *key) {
  return json_string_value(json_object_get(obj, key));
}

/* Builds the cells of a {d, n, r} list; returns the last one (owned) or NULL. */
static struct ton_cell *build_spec(json_t *list) {
  size_t n = json_array_size(list);
  if (n == 0 || n > TON_BOC_MAX_CELLS) return NULL;
  struct ton_cell **cells = calloc(n, sizeof(*cells));
  struct ton_cell *root = NULL;
  if (!cells) return NULL;
  size_t i;
  for (i = 0; i < n; i++) {
    json_t *c = json_array_get(list, i);
    const char *d = jstr(c, "d");
    json_int_t bits = json_integer_value(json_object_get(c, "n"));
    json_t *refs = json_object_get(c, "r");
    uint8_t *data = NULL;
    size_t dlen = 0;
    if (!d || unhex_alloc(d, strlen(d), &data, &dlen) != 0) break;
    struct ton_cell *kids[TON_CELL_MAX_REFS];
    size_t nr = json_array_size(refs);
    int ok = nr <= TON_CELL_MAX_REFS && bits >= 0 && (size_t)(bits + 7) / 8 == dlen;
    for (size_t k = 0; ok && k < nr; k++) {
      json_int_t x = json_integer_value(json_array_get(refs, k));
      ok = x >= 0 && (size_t)x < i;
      if (ok) kids[k] = cells[x];
    }
    int rc = ok ? ton_cell_new(data, (unsigned)bits, kids, (unsigned)nr, &cells[i], NULL) : ERR_PARSE;
    free(data);
    if (rc) break;
  }
  if (i == n) root = ton_cell_ref(cells[n - 1]);
  for (size_t k = 0; k < n; k++) ton_cell_unref(cells[k]);
  free(cells);
  return root;
}

static const char *const boc_variants[4] = {"none", "crc", "idx", "idx_crc"};
static const unsigned boc_flags[4] = {0, TON_BOC_CRC, TON_BOC_IDX, TON_BOC_IDX | TON_BOC_CRC};

/* Serializes c in the 4 variants and compares bytes; parses @ton/core's bytes and compares the
 * root hash and the re-serialization. */
static void check_bocs(struct oracle *o, struct ton_cell *c, json_t *bocs) {
  for (int v = 0; v < 4; v++) {
    const char *want = jstr(bocs, boc_variants[v]);
    char what[64];
    struct buf b;
    buf_init(&b, 0);
    struct err e = {0};
    snprintf(what, sizeof(what), "boc[%s] bytes", boc_variants[v]);
    if (ton_boc_serialize(c, boc_flags[v], &b, &e) != 0) {
      fail(o, what, want, e.msg);
      buf_free(&b);
      continue;
    }
    char *hex = malloc(b.len * 2 + 1);
    if (hex) {
      util_hex(buf_ptr(&b), b.len, hex);
      check_str(o, what, want, hex);
    }
    free(hex);
    buf_free(&b);
    /* Parse @ton/core's bytes. */
    uint8_t *in = NULL;
    size_t inlen = 0;
    struct ton_cell *root = NULL;
    snprintf(what, sizeof(what), "parse boc[%s]", boc_variants[v]);
    o->checks++;
    if (!want || unhex_alloc(want, strlen(want), &in, &inlen) != 0 ||
        ton_boc_parse_one(in, inlen, &root, &e) != 0) {
      fail(o, what, "parsed", e.msg);
    } else if (memcmp(root->hash, c->hash, 32) != 0) {
      fail(o, what, "same root hash", "different root hash");
    }
    ton_cell_unref(root);
    free(in);
  }
}

static void case_cell(struct oracle *o, json_t *j, json_t *spec) {
  struct ton_cell *c = build_spec(spec);
  o->checks++;
  if (!c) {
    fail(o, "build cells", "built", "failed");
    return;
  }
  check_hash(o, "hash", jstr(j, "hash"), c->hash);
  check_int(o, "depth", json_integer_value(json_object_get(j, "depth")), c->depth);
  check_bocs(o, c, json_object_get(j, "boc"));
  ton_cell_unref(c);
}

/* Hex of a number with an odd digit count allowed ("0", "abc") into out, right-aligned in cap
 * big-endian bytes. */
static int unhex_num(const char *s, uint8_t *out, size_t cap, size_t *n) {
  size_t l = strlen(s);
  size_t nb = (l + 1) / 2;
  if (nb > cap) return ERR_LIMIT;
  memset(out, 0, cap);
  for (size_t i = 0; i < l; i++) {
    int d = hexval((unsigned char)s[l - 1 - i]);
    if (d < 0) return ERR_PARSE;
    out[cap - 1 - i / 2] |= (uint8_t)(i % 2 ? d << 4 : d);
  }
  *n = cap;
  return 0;
}

static struct ton_cell *small_cell(json_t *spec) {
  json_t *list = json_array();
  struct ton_cell *c = NULL;
  if (!list) return NULL;
  json_t *one = json_object();
  if (one && !json_object_set(one, "d", json_object_get(spec, "d")) &&
      !json_object_set(one, "n", json_object_get(spec, "n")) && !json_object_set_new(one, "r", json_array()) &&
      !json_array_append(list, one))
    c = build_spec(list);
  json_decref(one);
  json_decref(list);
  return c;
}

/* Replays builder ops, compares with @ton/core, then reads them back through a slice. */
static void case_ops(struct oracle *o, json_t *j) {
  json_t *ops = json_object_get(j, "ops");
  struct ton_builder b;
  ton_builder_init(&b);
  int rc = 0;
  size_t i;
  for (i = 0; i < json_array_size(ops) && !rc; i++) {
    json_t *op = json_array_get(ops, i);
    const char *k = json_string_value(json_array_get(op, 0));
    json_t *a1 = json_array_get(op, 1), *a2 = json_array_get(op, 2);
    uint8_t be[16];
    size_t n;
    if (!k) rc = ERR_PARSE;
    else if (!strcmp(k, "uint")) {
      rc = unhex_num(json_string_value(a2) ? json_string_value(a2) : "x", be, 8, &n);
      uint64_t v = 0;
      for (size_t x = 0; x < 8; x++) v = v << 8 | be[x];
      if (!rc) rc = ton_builder_store_uint(&b, v, (unsigned)json_integer_value(a1));
    } else if (!strcmp(k, "int")) {
      int64_t v;
      rc = util_parse_i64(json_string_value(a2) ? json_string_value(a2) : "x", INT64_MIN, INT64_MAX, &v);
      if (!rc) rc = ton_builder_store_int(&b, v, (unsigned)json_integer_value(a1));
    } else if (!strcmp(k, "coins")) {
      rc = unhex_num(json_string_value(a1) ? json_string_value(a1) : "x", be, 16, &n);
      if (!rc) rc = ton_builder_store_varuint(&b, 16, be, 16);
    } else if (!strcmp(k, "addr")) {
      struct ton_addr a;
      rc = ton_addr_parse(json_string_value(a1) ? json_string_value(a1) : "", &a, NULL, NULL);
      if (!rc) rc = ton_builder_store_addr(&b, &a);
    } else if (!strcmp(k, "addr_none")) {
      rc = ton_builder_store_addr(&b, NULL);
    } else if (!strcmp(k, "bytes")) {
      uint8_t *p = NULL;
      const char *s = json_string_value(a1);
      rc = s ? unhex_alloc(s, strlen(s), &p, &n) : ERR_PARSE;
      if (!rc) rc = ton_builder_store_bytes(&b, p, n);
      free(p);
    } else if (!strcmp(k, "bit")) {
      rc = ton_builder_store_bit(&b, (int)json_integer_value(a1));
    } else if (!strcmp(k, "maybe_ref") || !strcmp(k, "ref")) {
      struct ton_cell *c = json_is_null(a1) ? NULL : small_cell(a1);
      if (!json_is_null(a1) && !c) rc = ERR_PARSE;
      else if (!strcmp(k, "ref")) rc = ton_builder_store_ref(&b, c);
      else rc = ton_builder_store_maybe_ref(&b, c);
      ton_cell_unref(c);
    } else {
      rc = ERR_PARSE;
    }
  }
  struct ton_cell *cell = NULL;
  o->checks++;
  if (rc || ton_builder_end(&b, &cell, NULL) != 0) {
    char got[64];
    snprintf(got, sizeof(got), "op %zu failed: %s", i, err_name(rc));
    ton_builder_clear(&b);
    fail(o, "replay ops", "all ops stored", got);
    return;
  }
  check_hash(o, "hash", jstr(j, "hash"), cell->hash);
  check_int(o, "depth", json_integer_value(json_object_get(j, "depth")), cell->depth);
  check_bocs(o, cell, json_object_get(j, "boc"));

  /* Read back. */
  struct ton_slice s;
  ton_slice_init(&s, cell);
  rc = 0;
  for (i = 0; i < json_array_size(ops) && !rc; i++) {
    json_t *op = json_array_get(ops, i);
    const char *k = json_string_value(json_array_get(op, 0));
    json_t *a1 = json_array_get(op, 1), *a2 = json_array_get(op, 2);
    uint8_t be[16], got[16];
    size_t n, gn;
    if (!strcmp(k, "uint")) {
      uint64_t v, want = 0;
      rc = unhex_num(json_string_value(a2), be, 8, &n);
      for (size_t x = 0; x < 8; x++) want = want << 8 | be[x];
      if (!rc) rc = ton_slice_load_uint(&s, (unsigned)json_integer_value(a1), &v);
      if (!rc && v != want) rc = ERR_PARSE;
    } else if (!strcmp(k, "int")) {
      int64_t v, want;
      rc = util_parse_i64(json_string_value(a2), INT64_MIN, INT64_MAX, &want);
      if (!rc) rc = ton_slice_load_int(&s, (unsigned)json_integer_value(a1), &v);
      if (!rc && v != want) rc = ERR_PARSE;
    } else if (!strcmp(k, "coins")) {
      rc = unhex_num(json_string_value(a1), be, 16, &n);
      if (!rc) rc = ton_slice_load_varuint(&s, 16, got, sizeof(got), &gn);
      /* Compare as numbers: strip leading zeros of the expected value. */
      size_t off = 0;
      while (off < 16 && be[off] == 0) off++;
      if (!rc && (gn != 16 - off || memcmp(got, be + off, gn))) rc = ERR_PARSE;
    } else if (!strcmp(k, "addr") || !strcmp(k, "addr_none")) {
      struct ton_addr a, want;
      int none = 0;
      rc = ton_slice_load_addr(&s, &a, &none);
      if (!rc && !strcmp(k, "addr_none") && !none) rc = ERR_PARSE;
      if (!rc && !strcmp(k, "addr") &&
          (none || ton_addr_parse(json_string_value(a1), &want, NULL, NULL) || !ton_addr_equal(&a, &want)))
        rc = ERR_PARSE;
    } else if (!strcmp(k, "bytes")) {
      uint8_t *p = NULL, tmp[32];
      rc = unhex_alloc(json_string_value(a1), strlen(json_string_value(a1)), &p, &n);
      if (!rc) rc = ton_slice_load_bits(&s, (unsigned)n * 8, tmp);
      if (!rc && memcmp(tmp, p, n)) rc = ERR_PARSE;
      free(p);
    } else if (!strcmp(k, "bit")) {
      int v;
      rc = ton_slice_load_bit(&s, &v);
      if (!rc && v != (int)json_integer_value(a1)) rc = ERR_PARSE;
    } else {
      const struct ton_cell *r = NULL;
      struct ton_cell *want = json_is_null(a1) ? NULL : small_cell(a1);
      rc = !strcmp(k, "ref") ? ton_slice_load_ref(&s, &r) : ton_slice_load_maybe_ref(&s, &r);
      if (!rc && ((want == NULL) != (r == NULL) || (want && memcmp(want->hash, r->hash, 32)))) rc = ERR_PARSE;
      ton_cell_unref(want);
    }
  }
  o->checks++;
  if (rc || ton_slice_end(&s) != 0) {
    char got[64];
    snprintf(got, sizeof(got), "op %zu read back wrong (%s)", i, rc ? err_name(rc) : "bits left over");
    fail(o, "slice read back", "same values", got);
  }
  ton_cell_unref(cell);
}

static void case_addr(struct oracle *o, json_t *j) {
  struct ton_addr a;
  struct err e = {0};
  o->checks++;
  if (ton_addr_parse(jstr(j, "raw") ? jstr(j, "raw") : "", &a, NULL, &e) != 0) {
    fail(o, "parse raw", jstr(j, "raw"), e.msg);
    return;
  }
  check_int(o, "wc", json_integer_value(json_object_get(j, "wc")), a.wc);
  check_hash(o, "hash", jstr(j, "hash"), a.hash);
  char raw[TON_ADDR_RAW_MAX];
  ton_addr_to_raw(&a, raw, sizeof(raw));
  check_str(o, "raw form", jstr(j, "raw"), raw);
  static const struct {
    const char *key;
    int b, t, url;
  } forms[] = {{"b_url", 1, 0, 1}, {"nb_url", 0, 0, 1}, {"tb_url", 1, 1, 1}, {"tnb_url", 0, 1, 1},
               {"b_std", 1, 0, 0}, {"nb_std", 0, 0, 0}, {"tb_std", 1, 1, 0}, {"tnb_std", 0, 1, 0}};
  json_t *fj = json_object_get(j, "forms");
  for (size_t i = 0; i < CC_ARRAY_LEN(forms); i++) {
    char s[64];
    const char *want = jstr(fj, forms[i].key);
    if (ton_addr_to_friendly(&a, forms[i].b, forms[i].t, forms[i].url, s, sizeof(s)) != 0) s[0] = '\0';
    check_str(o, forms[i].key, want, s);
    struct ton_addr p;
    struct ton_addr_form f;
    o->checks++;
    if (!want || ton_addr_parse(want, &p, &f, &e) != 0) fail(o, "parse friendly", want, e.msg);
    else if (!ton_addr_equal(&p, &a) || f.bounceable != forms[i].b || f.testnet != forms[i].t || !f.friendly)
      fail(o, "parse friendly fields", forms[i].key, "different workchain/hash/flags");
  }
}

static void case_addr_bad(struct oracle *o, json_t *j) {
  struct ton_addr a;
  struct ton_addr_form f;
  struct err e = {0};
  const char *s = jstr(j, "s");
  int ok = s && ton_addr_parse(s, &a, &f, &e) == 0;
  int want = json_is_true(json_object_get(j, "ok"));
  o->checks++;
  if (ok != want) {
    fail(o, "accept/refuse", want ? "accepted" : "refused", ok ? "accepted" : e.msg);
    return;
  }
  if (ok) {
    json_t *p = json_object_get(j, "parsed");
    check_int(o, "wc", json_integer_value(json_object_get(p, "wc")), a.wc);
    check_hash(o, "hash", jstr(p, "hash"), a.hash);
    check_int(o, "bounceable", json_is_true(json_object_get(p, "bounceable")), f.bounceable);
    check_int(o, "testnet", json_is_true(json_object_get(p, "testnet")), f.testnet);
  }
}

static void case_stateinit(struct oracle *o, json_t *j) {
  struct ton_state_init si = {0};
  json_t *sd = json_object_get(j, "split_depth"), *sp = json_object_get(j, "special");
  json_t *code = json_object_get(j, "code"), *data = json_object_get(j, "data");
  if (sd) {
    si.has_split_depth = 1;
    si.split_depth = (unsigned)json_integer_value(sd);
  }
  if (sp) {
    si.has_special = 1;
    si.tick = json_is_true(json_object_get(sp, "tick"));
    si.tock = json_is_true(json_object_get(sp, "tock"));
  }
  if (code) si.code = build_spec(code);
  if (data) si.data = build_spec(data);
  struct ton_cell *c = NULL;
  struct ton_addr a;
  struct err e = {0};
  int wc = (int)json_integer_value(json_object_get(j, "wc"));
  o->checks++;
  if ((code && !si.code) || (data && !si.data) || ton_state_init_cell(&si, &c, &e) != 0 ||
      ton_state_init_address(wc, &si, &a, &e) != 0) {
    fail(o, "build StateInit", "built", e.msg[0] ? e.msg : "cell spec");
  } else {
    char raw[TON_ADDR_RAW_MAX];
    check_hash(o, "StateInit hash", jstr(j, "hash"), c->hash);
    check_bocs(o, c, json_object_get(j, "boc"));
    ton_addr_to_raw(&a, raw, sizeof(raw));
    check_str(o, "contract address", jstr(j, "address"), raw);
  }
  ton_cell_unref(c);
  ton_cell_unref(si.code);
  ton_cell_unref(si.data);
}

static void case_wallet(struct oracle *o, json_t *j) {
  enum ton_wallet_kind k;
  uint8_t pk[32];
  struct ton_wallet w;
  struct err e = {0};
  const char *ver = jstr(j, "ver"), *pkh = jstr(j, "pubkey");
  int wc = (int)json_integer_value(json_object_get(j, "wc"));
  int testnet = json_is_true(json_object_get(j, "testnet"));
  o->checks++;
  if (!ver || !pkh || ton_wallet_kind_parse(ver, &k) || strlen(pkh) != 64 || util_unhex(pkh, 64, pk, 32) ||
      ton_wallet_init(&w, k, wc, pk, testnet)) {
    fail(o, "wallet inputs", "valid", "invalid");
    return;
  }
  struct ton_cell *code = NULL, *data = NULL, *si = NULL;
  struct ton_addr a;
  if (ton_wallet_code(k, &code, &e) || ton_wallet_data(&w, &data, &e) || ton_wallet_state_init(&w, &si, &e) ||
      ton_wallet_address(&w, &a, &e)) {
    fail(o, "wallet build", "built", e.msg);
  } else {
    check_hash(o, "code hash", jstr(j, "code_hash"), code->hash);
    struct buf b;
    buf_init(&b, 0);
    if (ton_boc_serialize(data, 0, &b, &e) == 0) {
      char hex[2 * 200 + 1];
      if (b.len <= 200) {
        util_hex(buf_ptr(&b), b.len, hex);
        check_str(o, "data boc", jstr(j, "data_boc"), hex);
      } else {
        fail(o, "data boc", "short", "too long");
      }
    } else {
      fail(o, "data boc", "serialized", e.msg);
    }
    buf_free(&b);
    check_hash(o, "StateInit hash", jstr(j, "stateinit_hash"), si->hash);
    char raw[TON_ADDR_RAW_MAX], fb[64], fnb[64];
    ton_addr_to_raw(&a, raw, sizeof(raw));
    check_str(o, "address", jstr(j, "address"), raw);
    if (ton_addr_to_friendly(&a, 1, testnet, 1, fb, sizeof(fb)) ||
        ton_addr_to_friendly(&a, 0, testnet, 1, fnb, sizeof(fnb)))
      fb[0] = fnb[0] = '\0';
    check_str(o, "friendly bounceable", jstr(j, "friendly_b"), fb);
    check_str(o, "friendly non-bounceable", jstr(j, "friendly_nb"), fnb);
  }
  ton_cell_unref(code);
  ton_cell_unref(data);
  ton_cell_unref(si);
}

static void case_reencode(struct oracle *o, json_t *j) {
  const char *in = jstr(j, "input");
  uint8_t *p = NULL;
  size_t n = 0;
  struct ton_cell *c = NULL;
  struct err e = {0};
  o->checks++;
  if (!in || unhex_alloc(in, strlen(in), &p, &n) || ton_boc_parse_one(p, n, &c, &e)) {
    fail(o, "parse input BoC", "parsed", e.msg);
  } else {
    check_hash(o, "hash", jstr(j, "hash"), c->hash);
    check_int(o, "depth", json_integer_value(json_object_get(j, "depth")), c->depth);
    check_bocs(o, c, json_object_get(j, "boc"));
  }
  ton_cell_unref(c);
  free(p);
}

/* ---- message cases ---- */

static uint64_t jhex_u64(json_t *j, const char *key) {
  const char *s = jstr(j, key);
  return s ? strtoull(s, NULL, 16) : 0;
}

/* A raw address string, or JSON null (has = 0). Returns -1 when it is neither. */
static int jaddr(json_t *j, const char *key, struct ton_addr *a, int *has) {
  json_t *v = json_object_get(j, key);
  *has = 0;
  if (!v || json_is_null(v)) return 0;
  if (!json_is_string(v) || ton_addr_parse(json_string_value(v), a, NULL, NULL)) return -1;
  *has = 1;
  return 0;
}

static int jhex_fixed(json_t *j, const char *key, uint8_t *out, size_t n) {
  const char *s = jstr(j, key);
  return s && strlen(s) == 2 * n && util_unhex(s, 2 * n, out, n) == 0 ? 0 : -1;
}

/* Body spec (null: absent) into *out; -1 on a bad spec. */
static int jcell(json_t *j, const char *key, struct ton_cell **out) {
  json_t *v = json_object_get(j, key);
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  return (*out = build_spec(v)) ? 0 : -1;
}

/* {code, data} spec (null: absent) into a StateInit cell. */
static int jinit(json_t *j, const char *key, struct ton_cell **out) {
  json_t *v = json_object_get(j, key);
  *out = NULL;
  if (!v || json_is_null(v)) return 0;
  struct ton_state_init si = {0};
  int rc = -1;
  if (!jcell(v, "code", &si.code) && !jcell(v, "data", &si.data) && !ton_state_init_cell(&si, out, NULL)) rc = 0;
  ton_cell_unref(si.code);
  ton_cell_unref(si.data);
  return rc;
}

/* Compares the root hash and, when want_boc is given, the CRC BoC bytes (toBoc()'s default). */
static void check_cell(struct oracle *o, const char *what, struct ton_cell *c, const char *want_hash,
                       const char *want_boc) {
  char w[64];
  snprintf(w, sizeof(w), "%s hash", what);
  check_hash(o, w, want_hash, c->hash);
  if (!want_boc) return;
  struct buf b;
  struct err e = {0};
  buf_init(&b, 0);
  snprintf(w, sizeof(w), "%s boc", what);
  if (ton_boc_serialize(c, TON_BOC_CRC, &b, &e) == 0) {
    char *hex = malloc(b.len * 2 + 1);
    if (hex) {
      util_hex(buf_ptr(&b), b.len, hex);
      check_str(o, w, want_boc, hex);
    }
    free(hex);
  } else {
    fail(o, w, want_boc, e.msg);
  }
  buf_free(&b);
}

static void case_cocoon_msg(struct oracle *o, json_t *j) {
  struct ton_cocoon_msg m = {0};
  struct ton_cell *c = NULL;
  struct err e = {0};
  m.op = (uint32_t)json_integer_value(json_object_get(j, "op"));
  m.qid = jhex_u64(j, "qid");
  m.coins = jhex_u64(j, "coins");
  m.nonce = jhex_u64(j, "nonce");
  o->checks++;
  if (jhex_fixed(j, "secret", m.secret, 32) || jaddr(j, "excess", &m.excess, &m.has_excess)) {
    fail(o, "inputs", "valid", "invalid");
    return;
  }
  if (ton_cocoon_msg_cell(&m, &c, &e)) {
    fail(o, "build", "built", e.msg);
    return;
  }
  check_cell(o, "body", c, jstr(j, "hash"), jstr(j, "boc"));
  ton_cell_unref(c);
}

static void case_cocoon_save(struct oracle *o, json_t *j) {
  uint8_t h[32];
  struct ton_cell *c = NULL;
  struct err e = {0};
  o->checks++;
  if (jhex_fixed(j, "unique_hash", h, 32) ||
      ton_cocoon_save_state_cell(jhex_u64(j, "qid"), (int32_t)json_integer_value(json_object_get(j, "seqno")), h,
                                 &c, &e)) {
    fail(o, "build", "built", e.msg);
    return;
  }
  check_cell(o, "save-state", c, jstr(j, "hash"), jstr(j, "boc"));
  ton_cell_unref(c);
}

static void case_cocoon_signed(struct oracle *o, json_t *j) {
  struct ton_cocoon_signed s = {0};
  struct ton_addr excess;
  int has_excess, has_target;
  uint8_t seed[32];
  struct ton_cell *c = NULL, *c2 = NULL;
  struct err e = {0};
  s.op = (uint32_t)json_integer_value(json_object_get(j, "op"));
  s.qid = jhex_u64(j, "qid");
  s.tokens = jhex_u64(j, "tokens");
  o->checks++;
  if (jhex_fixed(j, "seed", seed, 32) || jaddr(j, "target", &s.target, &has_target) || !has_target ||
      jaddr(j, "excess", &excess, &has_excess)) {
    fail(o, "inputs", "valid", "invalid");
    return;
  }
  if (ton_cocoon_signed_cell(&s, has_excess ? &excess : NULL, seed, &c, &e)) {
    fail(o, "build", "built", e.msg);
    return;
  }
  check_cell(o, "signed", c, jstr(j, "hash"), jstr(j, "boc"));
  /* The charge/payout ops must equal what ton_payment_sign (used by the proxy) produces. */
  if (s.op != TON_OP_PROXY_CLOSE_SIGNED && s.op != TON_OP_PROXY_CLOSE_COMPLETE_SIGNED) {
    struct ton_payment p = {.op = s.op, .qid = s.qid, .tokens = s.tokens, .target = s.target};
    struct buf b;
    buf_init(&b, 0);
    o->checks++;
    if (ton_payment_sign(&p, has_excess ? &excess : NULL, seed, &b, &e) ||
        ton_boc_parse_one(buf_ptr(&b), b.len, &c2, &e) || memcmp(c2->hash, c->hash, 32))
      fail(o, "ton_payment_sign agrees", "same cell", e.msg[0] ? e.msg : "different cell");
    buf_free(&b);
  }
  /* Rewrapping with the same excess address gives back the same cell. */
  ton_cell_unref(c2);
  c2 = NULL;
  o->checks++;
  if (ton_cocoon_signed_rewrap(c, has_excess ? &excess : NULL, &c2, &e) || memcmp(c2->hash, c->hash, 32))
    fail(o, "rewrap", "same cell", "different");
  ton_cell_unref(c2);
  ton_cell_unref(c);
}

/* Builds one internal message from its JSON record. */
static int build_out_msg(json_t *r, unsigned flags, struct ton_cell **out, struct err *e) {
  struct ton_int_msg m = {0};
  int has;
  int rc = ERR_PARSE;
  m.value = jhex_u64(r, "value");
  m.bounce = json_is_true(json_object_get(r, "bounce"));
  if (!jaddr(r, "dest", &m.dest, &has) && has && !jcell(r, "body", &m.body) && !jinit(r, "init", &m.init))
    rc = ton_int_msg_cell(&m, flags, out, e);
  else
    err_set(e, rc, "bad message record");
  ton_cell_unref(m.body);
  ton_cell_unref(m.init);
  return rc;
}

static void case_intmsg(struct oracle *o, json_t *j) {
  struct ton_cell *c = NULL;
  struct err e = {0};
  o->checks++;
  if (build_out_msg(j, json_is_true(json_object_get(j, "force_ref")) ? TON_MSG_FORCE_REF : 0, &c, &e)) {
    fail(o, "build", "built", e.msg);
    return;
  }
  check_cell(o, "internal message", c, jstr(j, "hash"), jstr(j, "boc"));
  ton_cell_unref(c);
}

static void case_extmsg(struct oracle *o, json_t *j) {
  struct ton_addr dest;
  int has;
  struct ton_cell *body = NULL, *init = NULL, *c = NULL;
  struct err e = {0};
  o->checks++;
  if (jaddr(j, "dest", &dest, &has) || !has || jcell(j, "body", &body) || jinit(j, "init", &init) ||
      ton_ext_in_msg_cell(&dest, init, body, json_is_true(json_object_get(j, "force_ref")) ? TON_MSG_FORCE_REF : 0,
                          &c, &e))
    fail(o, "build", "built", e.msg);
  else
    check_cell(o, "external message", c, jstr(j, "hash"), jstr(j, "boc"));
  ton_cell_unref(c);
  ton_cell_unref(body);
  ton_cell_unref(init);
}

static void case_comment(struct oracle *o, json_t *j) {
  struct ton_cell *c = NULL;
  struct err e = {0};
  const char *t = jstr(j, "text");
  o->checks++;
  if (!t || ton_comment_cell(t, &c, &e)) {
    fail(o, "build", "built", e.msg);
    return;
  }
  check_cell(o, "comment", c, jstr(j, "hash"), NULL);
  ton_cell_unref(c);
}

static void case_wallet_tx(struct oracle *o, json_t *j) {
  enum ton_wallet_kind k;
  uint8_t seed[32], pub[32];
  struct ton_wallet w;
  struct err e = {0};
  json_t *msgs = json_object_get(j, "msgs");
  size_t n = json_array_size(msgs);
  struct ton_wallet_out outs[TON_WALLET_V5R1_MAX_MSGS];
  struct ton_cell *body = NULL, *ext = NULL;
  size_t built = 0;
  o->checks++;
  if (!jstr(j, "ver") || ton_wallet_kind_parse(jstr(j, "ver"), &k) || jhex_fixed(j, "seed", seed, 32) ||
      ton_sign_pubkey(seed, pub) ||
      ton_wallet_init(&w, k, (int)json_integer_value(json_object_get(j, "wc")), pub,
                      json_is_true(json_object_get(j, "testnet"))) ||
      n > TON_WALLET_V5R1_MAX_MSGS) {
    fail(o, "inputs", "valid", "invalid");
    return;
  }
  for (; built < n; built++) {
    outs[built].mode = (uint8_t)json_integer_value(json_object_get(j, "mode"));
    if (build_out_msg(json_array_get(msgs, built), 0, &outs[built].msg, &e)) {
      fail(o, "out message", "built", e.msg);
      goto out;
    }
    char what[48];
    snprintf(what, sizeof(what), "out message %zu", built);
    check_cell(o, what, outs[built].msg, json_string_value(json_array_get(json_object_get(j, "msg_hashes"), built)),
               NULL);
  }
  struct ton_wallet_transfer t = {
      .seqno = (uint32_t)json_integer_value(json_object_get(j, "seqno")),
      .valid_until = (uint32_t)json_integer_value(json_object_get(j, "valid_until")),
      .msgs = outs,
      .nmsgs = n,
  };
  if (ton_wallet_transfer_body(&w, &t, seed, &body, &e) ||
      ton_wallet_transfer_external(&w, &t, seed, json_is_true(json_object_get(j, "with_init")), &ext, &e)) {
    fail(o, "transfer", "built", e.msg);
    goto out;
  }
  check_cell(o, "transfer body (createTransfer)", body, jstr(j, "body_hash"), NULL);
  check_cell(o, "external message", ext, jstr(j, "ext_hash"), jstr(j, "ext_boc"));
out:
  for (size_t i = 0; i < built; i++) ton_cell_unref(outs[i].msg);
  ton_cell_unref(body);
  ton_cell_unref(ext);
}

static void case_root_data(struct oracle *o, json_t *j) {
  const char *in = jstr(j, "boc");
  uint8_t *p = NULL;
  size_t n = 0;
  struct ton_cell *c = NULL;
  struct err e = {0};
  struct chain_root *r = calloc(1, sizeof(*r));
  struct buf b;
  buf_init(&b, 0);
  o->checks++;
  if (!r || !in || unhex_alloc(in, strlen(in), &p, &n) || ton_boc_parse_one(p, n, &c, &e) ||
      chain_root_parse_data(c, r, &e)) {
    fail(o, "parse root data", "parsed", e.msg);
  } else if (chain_root_summary(r, &b)) {
    fail(o, "summary", "written", "out of memory");
  } else {
    check_str(o, "root state", jstr(j, "summary"), (const char *)buf_ptr(&b));
    /* Every listed hash is found, and a hash one bit away is not. */
    const struct chain_root *cr = r;
    const uint8_t(*lists[3])[32] = {cr->proxy_hashes, cr->worker_hashes, cr->model_hashes};
    const size_t counts[3] = {r->n_proxy_hashes, r->n_worker_hashes, r->n_model_hashes};
    for (int l = 0; l < 3; l++)
      for (size_t i = 0; i < counts[l]; i++) {
        uint8_t h[32];
        memcpy(h, lists[l][i], 32);
        o->checks++;
        if (!chain_root_has_hash(r, (enum chain_root_list)l, h)) fail(o, "allowlist lookup", "found", "missing");
        h[31] ^= 1;
        o->checks++;
        if (chain_root_has_hash(r, (enum chain_root_list)l, h)) fail(o, "allowlist lookup", "absent", "found");
      }
  }
  buf_free(&b);
  free(r);
  ton_cell_unref(c);
  free(p);
}

static void case_notify(struct oracle *o, json_t *j) {
  const char *in = jstr(j, "boc");
  uint8_t *p = NULL;
  size_t n = 0;
  struct ton_cell *c = NULL;
  struct err e = {0};
  struct ton_cocoon_notify m;
  o->checks++;
  if (!in || unhex_alloc(in, strlen(in), &p, &n) || ton_boc_parse_one(p, n, &c, &e) ||
      ton_cocoon_notify_parse(c, &m, &e)) {
    fail(o, "parse notification", "parsed", e.msg);
  } else {
    char owner[TON_ADDR_RAW_MAX] = "none", excess[TON_ADDR_RAW_MAX] = "none", secret[65], got[1024];
    if (m.has_owner) ton_addr_to_raw(&m.owner, owner, sizeof(owner));
    if (m.has_excess) ton_addr_to_raw(&m.excess, excess, sizeof(excess));
    util_hex(m.secret, 32, secret);
    snprintf(got, sizeof(got),
             "op=%08x;qid=%llu;owner=%s;state=%u;tokens=%llu;balance=%llu;stake=%llu;secret=%s;pop=%08x;coins=%llu;"
             "save=%llu;nonce=%llu;excess=%s",
             (unsigned)m.op, (unsigned long long)m.qid, owner, m.state, (unsigned long long)m.tokens,
             (unsigned long long)m.balance, (unsigned long long)m.stake, secret, (unsigned)m.payload_op,
             (unsigned long long)m.coins, (unsigned long long)m.coins_to_save, (unsigned long long)m.nonce, excess);
    check_str(o, "notification", jstr(j, "summary"), got);
  }
  ton_cell_unref(c);
  free(p);
}

static int cmd_selftest_oracle(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: cocoon ton selftest-oracle CASES.jsonl   (written by tests/ton/gen.cjs)\n");
    return 2;
  }
  FILE *f = strcmp(argv[1], "-") ? fopen(argv[1], "r") : stdin;
  if (!f) {
    fprintf(stderr, "cocoon ton selftest-oracle: cannot open %s: %s\n", argv[1], strerror(errno));
    return 1;
  }
  struct oracle o = {0};
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  unsigned lineno = 0, bad_lines = 0;
  enum { NKINDS = 17 };
  unsigned per_kind[NKINDS] = {0};
  static const char *const kinds[NKINDS] = {"cell",     "ops",        "addr",          "addr_bad", "stateinit",
                                            "wallet",   "reencode",   "cocoon_msg",    "cocoon_save",
                                            "cocoon_signed", "intmsg", "extmsg",       "comment",  "wallet_tx",
                                            "root_data", "notify", "meta"};
  while ((len = getline(&line, &cap, f)) > 0) {
    lineno++;
    if ((size_t)len > TON_CMD_MAX_LINE) {
      fprintf(stderr, "line %u: longer than %zu bytes\n", lineno, TON_CMD_MAX_LINE);
      bad_lines++;
      continue;
    }
    json_error_t je;
    json_t *j = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &je);
    const char *kind = j ? jstr(j, "kind") : NULL;
    if (!kind) {
      fprintf(stderr, "line %u: not a case object (%s)\n", lineno, j ? "no kind" : je.text);
      bad_lines++;
      json_decref(j);
      continue;
    }
    char name[96];
    snprintf(name, sizeof(name), "%s (line %u)", jstr(j, "name") ? jstr(j, "name") : kind, lineno);
    o.name = name;
    int known = 1;
    if (!strcmp(kind, "cell")) case_cell(&o, j, json_object_get(j, "cells"));
    else if (!strcmp(kind, "ops")) case_ops(&o, j);
    else if (!strcmp(kind, "addr")) case_addr(&o, j);
    else if (!strcmp(kind, "addr_bad")) case_addr_bad(&o, j);
    else if (!strcmp(kind, "stateinit")) case_stateinit(&o, j);
    else if (!strcmp(kind, "wallet")) case_wallet(&o, j);
    else if (!strcmp(kind, "reencode")) case_reencode(&o, j);
    else if (!strcmp(kind, "cocoon_msg")) case_cocoon_msg(&o, j);
    else if (!strcmp(kind, "cocoon_save")) case_cocoon_save(&o, j);
    else if (!strcmp(kind, "cocoon_signed")) case_cocoon_signed(&o, j);
    else if (!strcmp(kind, "intmsg")) case_intmsg(&o, j);
    else if (!strcmp(kind, "extmsg")) case_extmsg(&o, j);
    else if (!strcmp(kind, "comment")) case_comment(&o, j);
    else if (!strcmp(kind, "wallet_tx")) case_wallet_tx(&o, j);
    else if (!strcmp(kind, "root_data")) case_root_data(&o, j);
    else if (!strcmp(kind, "notify")) case_notify(&o, j);
    else if (strcmp(kind, "meta")) known = 0;
    if (!known) {
      fprintf(stderr, "line %u: unknown case kind '%s'\n", lineno, kind);
      bad_lines++;
    }
    for (int k = 0; k < NKINDS; k++)
      if (!strcmp(kind, kinds[k])) per_kind[k]++;
    if (known && strcmp(kind, "meta")) o.cases++;
    json_decref(j);
  }
  free(line);
  if (f != stdin) fclose(f);
  printf("oracle: %u cases (", o.cases);
  for (int k = 0; k < NKINDS - 1; k++) printf("%s%s %u", k ? ", " : "", kinds[k], per_kind[k]);
  printf("), %u checks, %u mismatches, %u bad lines\n", o.checks, o.failures, bad_lines);
  return (o.failures || bad_lines || o.cases == 0) ? 1 : 0;
}

int ton_cmd_main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const char *sub = argv[1];
  if (!strcmp(sub, "address")) return cmd_address(argc - 1, argv + 1);
  if (!strcmp(sub, "boc")) return cmd_boc(argc - 1, argv + 1);
  if (!strcmp(sub, "parse-address")) return cmd_parse_address(argc - 1, argv + 1);
  if (!strcmp(sub, "sign-payment")) return cmd_sign_payment(argc - 1, argv + 1);
  if (!strcmp(sub, "selftest-oracle")) return cmd_selftest_oracle(argc - 1, argv + 1);
  int rc = ton_chain_cmd_main(argc - 1, argv + 1);
  if (rc >= 0) return rc;
  fprintf(stderr, "cocoon ton: unknown command '%s'\n", sub);
  usage(stderr);
  return 2;
}
