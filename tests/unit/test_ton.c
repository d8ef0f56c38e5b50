/* test_ton: cells, hashes, BoC (official @ton/core vectors, strictness), addresses, wallets. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "ton/address.h"
#include "ton/boc.h"
#include "ton/cell.h"
#include "ton/crc.h"
#include "ton/wallet.h"

/* ---- helpers ---- */

static size_t unhex_dyn(const char *hex, uint8_t **out) {
  size_t n = strlen(hex) / 2;
  *out = malloc(n ? n : 1);
  assert_non_null(*out);
  assert_int_equal(util_unhex(hex, 2 * n, *out, n), 0);
  return n;
}

static void assert_hash(const struct ton_cell *c, const char *want_hex) {
  char got[65];
  util_hex(c->hash, 32, got);
  assert_string_equal(got, want_hex);
}

static struct ton_cell *parse_hex(const char *hex) {
  uint8_t *p;
  size_t n = unhex_dyn(hex, &p);
  struct ton_cell *c = NULL;
  struct err e = {0};
  int rc = ton_boc_parse_one(p, n, &c, &e);
  free(p);
  if (rc) fail_msg("parse failed: %s", e.msg);
  return c;
}

/* Returns the parse error (0 on success) and the message in e. */
static int parse_err(const char *hex, struct err *e) {
  uint8_t *p;
  size_t n = unhex_dyn(hex, &p);
  struct ton_cell *c = NULL;
  int rc = ton_boc_parse_one(p, n, &c, e);
  ton_cell_unref(c);
  free(p);
  return rc;
}

static void assert_boc(struct ton_cell *c, unsigned flags, const char *want_hex) {
  struct buf b;
  buf_init(&b, 0);
  assert_int_equal(ton_boc_serialize(c, flags, &b, NULL), 0);
  char *hex = malloc(b.len * 2 + 1);
  assert_non_null(hex);
  util_hex(buf_ptr(&b), b.len, hex);
  assert_string_equal(hex, want_hex);
  free(hex);
  buf_free(&b);
}

static struct ton_cell *cell_u(uint64_t v, unsigned bits, struct ton_cell **refs, unsigned nrefs) {
  struct ton_builder b;
  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, v, bits), 0);
  for (unsigned i = 0; i < nrefs; i++) assert_int_equal(ton_builder_store_ref(&b, refs[i]), 0);
  struct ton_cell *c = NULL;
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  return c;
}

/* ---- checksums ---- */

static void test_crc(void **state) {
  (void)state;
  assert_int_equal(ton_crc16("123456789", 9), 0x31C3);
  assert_int_equal(ton_crc32c("123456789", 9), 0xE3069283u);
  assert_int_equal(ton_crc32c("", 0), 0);
}

/* ---- official vectors from ton-org/ton-core src/boc/cell/serialization.spec.ts ---- */

struct boc_vec {
  const char *name, *hash, *v[4]; /* none, crc, idx, idx+crc */
};

static const struct boc_vec official[] = {
    {"empty", "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     {"b5ee9c72010101010002000000", "b5ee9c724101010100020000004cacb9cd", "b5ee9c7281010101000200020000",
      "b5ee9c72c1010101000200020000b801f86b"}},
    {"u32", "91e353dfca30bc835a6181f062313547c1d8934735352307ef6bbefda309fb57",
     {"b5ee9c72010101010006000008075bcd15", "b5ee9c72410101010006000008075bcd15516e5092",
      "b5ee9c7281010101000600060008075bcd15", "b5ee9c72c1010101000600060008075bcd158861f575"}},
    {"u34", "464fa7b7c92403237d4b5bf81f4cf015b1acd88370a4c1ef112bcf41bac8e9dd",
     {"b5ee9c7201010101000700000901d6f34560", "b5ee9c7241010101000700000901d6f345606f5d59a1",
      "b5ee9c728101010100070007000901d6f34560", "b5ee9c72c101010100070007000901d6f34560cd128b7c"}},
    {"one_ref", "82869061cb173b673f81ddeabcca379dc123ce96d4eeeacd43b84f0e8d2a0b57",
     {"b5ee9c7201010201000d0001083ade68b1010008075bcd15", "b5ee9c7241010201000d0001083ade68b1010008075bcd15496ffbe7",
      "b5ee9c7281010201000d00070d01083ade68b1010008075bcd15",
      "b5ee9c72c1010201000d00070d01083ade68b1010008075bcd15313f871d"}},
    {"three_refs", "724b34c1b7ea15913dff26f4b16316406a23d1704e2e4522f9a5f9c6927a8e30",
     {"b5ee9c7201010201000f0003083ade68b10101010008075bcd15",
      "b5ee9c7241010201000f0003083ade68b10101010008075bcd15a9403da9",
      "b5ee9c7281010201000f00090f03083ade68b10101010008075bcd15",
      "b5ee9c72c1010201000f00090f03083ade68b10101010008075bcd159cfdbac2"}},
};

static struct ton_cell *official_cell(size_t i) {
  struct ton_cell *ref, *refs[3];
  switch (i) {
  case 0: return ton_cell_empty();
  case 1: return cell_u(123456789, 32, NULL, 0);
  case 2: return cell_u(123456789, 34, NULL, 0);
  case 3: {
    ref = cell_u(123456789, 32, NULL, 0);
    struct ton_cell *c = cell_u(987654321, 32, &ref, 1);
    ton_cell_unref(ref);
    return c;
  }
  default: {
    ref = cell_u(123456789, 32, NULL, 0);
    refs[0] = refs[1] = refs[2] = ref;
    struct ton_cell *c = cell_u(987654321, 32, refs, 3);
    ton_cell_unref(ref);
    return c;
  }
  }
}

static void test_official_vectors(void **state) {
  (void)state;
  static const unsigned flags[4] = {0, TON_BOC_CRC, TON_BOC_IDX, TON_BOC_IDX | TON_BOC_CRC};
  for (size_t i = 0; i < CC_ARRAY_LEN(official); i++) {
    struct ton_cell *c = official_cell(i);
    assert_non_null(c);
    assert_hash(c, official[i].hash);
    for (int v = 0; v < 4; v++) {
      assert_boc(c, flags[v], official[i].v[v]);
      struct ton_cell *p = parse_hex(official[i].v[v]);
      assert_memory_equal(p->hash, c->hash, 32);
      ton_cell_unref(p);
    }
    ton_cell_unref(c);
  }
  /* "should serialize boc with index" and "should deserialize cell from hex". */
  struct ton_cell *a = cell_u(1337, 32, NULL, 0), *b = cell_u(1338, 32, NULL, 0);
  struct ton_cell *kids[2] = {a, b};
  struct ton_cell *c = cell_u(228, 32, kids, 2);
  assert_boc(c, TON_BOC_IDX, "b5ee9c7281010301001400080e140208000000e4010200080000053900080000053a");
  ton_cell_unref(a);
  ton_cell_unref(b);
  ton_cell_unref(c);
  c = parse_hex("b5ee9c7241010201000d00010800000001010008000000027d4b3cf8");
  assert_int_equal(c->bits, 32);
  assert_int_equal(c->nrefs, 1);
  assert_int_equal(c->data[3], 1);
  assert_int_equal(c->refs[0]->data[3], 2);
  ton_cell_unref(c);
}

/* The spec's wallet v1..v3 code BoCs: parse, re-serialize, parse back, same hash. */
static void test_official_wallet_bocs(void **state) {
  (void)state;
  static const char *const wallets[] = {
      "B5EE9C72410101010044000084FF0020DDA4F260810200D71820D70B1FED44D0D31FD3FFD15112BAF2A122F901541044F910F2A2F80001D31F3120D74A96D307D402FB00DED1A4C8CB1FCBFFC9ED5441FDF089",
      "B5EE9C724101010100530000A2FF0020DD2082014C97BA9730ED44D0D70B1FE0A4F260810200D71820D70B1FED44D0D31FD3FFD15112BAF2A122F901541044F910F2A2F80001D31F3120D74A96D307D402FB00DED1A4C8CB1FCBFFC9ED54D0E2786F",
      "B5EE9C7241010101005F0000BAFF0020DD2082014C97BA218201339CBAB19C71B0ED44D0D31FD70BFFE304E0A4F260810200D71820D70B1FED44D0D31FD3FFD15112BAF2A122F901541044F910F2A2F80001D31F3120D74A96D307D402FB00DED1A4C8CB1FCBFFC9ED54B5B86E42",
      "B5EE9C724101010100570000AAFF0020DD2082014C97BA9730ED44D0D70B1FE0A4F2608308D71820D31FD31F01F823BBF263ED44D0D31FD3FFD15131BAF2A103F901541042F910F2A2F800029320D74A96D307D402FB00E8D1A4C8CB1FCBFFC9ED54A1370BB6",
      "B5EE9C724101010100630000C2FF0020DD2082014C97BA218201339CBAB19C71B0ED44D0D31FD70BFFE304E0A4F2608308D71820D31FD31F01F823BBF263ED44D0D31FD3FFD15131BAF2A103F901541042F910F2A2F800029320D74A96D307D402FB00E8D1A4C8CB1FCBFFC9ED54044CD7A1",
      "B5EE9C724101010100620000C0FF0020DD2082014C97BA9730ED44D0D70B1FE0A4F2608308D71820D31FD31FD31FF82313BBF263ED44D0D31FD31FD3FFD15132BAF2A15144BAF2A204F901541055F910F2A3F8009320D74A96D307D402FB00E8D101A4C8CB1FCB1FCBFFC9ED543FBE6EE0",
      "B5EE9C724101010100710000DEFF0020DD2082014C97BA218201339CBAB19F71B0ED44D0D31FD31F31D70BFFE304E0A4F2608308D71820D31FD31FD31FF82313BBF263ED44D0D31FD31FD3FFD15132BAF2A15144BAF2A204F901541055F910F2A3F8009320D74A96D307D402FB00E8D101A4C8CB1FCB1FCBFFC9ED5410BD6DAD",
  };
  for (size_t i = 0; i < CC_ARRAY_LEN(wallets); i++) {
    uint8_t *p;
    size_t n = unhex_dyn(wallets[i], &p);
    struct ton_cell *c = NULL, *c2 = NULL;
    assert_int_equal(ton_boc_parse_one(p, n, &c, NULL), 0);
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(ton_boc_serialize(c, TON_BOC_CRC, &b, NULL), 0);
    /* Single cells: the canonical encoding is the input itself. */
    assert_int_equal(b.len, n);
    assert_memory_equal(buf_ptr(&b), p, n);
    assert_int_equal(ton_boc_parse_one(buf_ptr(&b), b.len, &c2, NULL), 0);
    assert_memory_equal(c->hash, c2->hash, 32);
    buf_free(&b);
    ton_cell_unref(c);
    ton_cell_unref(c2);
    free(p);
  }
}

static void test_exotic_refused(void **state) {
  (void)state;
  /* The spec's library cell BoC: its second cell is exotic (type 2). */
  struct err e = {0};
  int rc = parse_err("b5ee9c7201010201002d00010eff0088d0ed1ed80108420219b8337799e167d5a148cfb88ee142be031824eb71b6115db532881fa33fe923",
                     &e);
  assert_int_equal(rc, ERR_PARSE);
  assert_non_null(strstr(e.msg, "exotic"));
  assert_non_null(strstr(e.msg, "library"));
}

static void test_stateinit_golden(void **state) {
  (void)state;
  /* ton-core src/types/StateInit.spec.ts golden-1. */
  struct ton_cell *code = cell_u(1, 8, NULL, 0), *data = cell_u(2, 8, NULL, 0), *si = NULL;
  struct ton_state_init s = {.code = code, .data = data};
  assert_int_equal(ton_state_init_cell(&s, &si, NULL), 0);
  assert_boc(si, TON_BOC_CRC, "b5ee9c7241010301000b000201340102000201000202837fc10a");
  struct ton_addr a;
  assert_int_equal(ton_state_init_address(0, &s, &a, NULL), 0);
  assert_memory_equal(a.hash, si->hash, 32);
  ton_cell_unref(si);
  /* split_depth and special (tick only). */
  s.has_split_depth = 1;
  s.split_depth = 5;
  s.has_special = 1;
  s.tick = 1;
  assert_int_equal(ton_state_init_cell(&s, &si, NULL), 0);
  assert_int_equal(si->bits, 1 + 5 + 1 + 2 + 3);
  assert_int_equal(si->nrefs, 2);
  ton_cell_unref(si);
  s.split_depth = 32;
  assert_int_equal(ton_state_init_cell(&s, &si, NULL), ERR_INVALID);
  ton_cell_unref(code);
  ton_cell_unref(data);
}

/* ---- BoC strictness ---- */

static void test_boc_truncations_and_flips(void **state) {
  (void)state;
  /* A DAG with shared cells, serialized in all four variants. */
  struct ton_cell *leaf = cell_u(0x5, 3, NULL, 0);
  struct ton_cell *mid_refs[2] = {leaf, leaf};
  struct ton_cell *mid = cell_u(0xABCDEF, 24, mid_refs, 2);
  struct ton_cell *root_refs[3] = {mid, leaf, mid};
  struct ton_cell *root = cell_u(0x123456789ull, 40, root_refs, 3);
  for (unsigned flags = 0; flags < 4; flags++) {
    struct buf b;
    buf_init(&b, 0);
    assert_int_equal(ton_boc_serialize(root, flags, &b, NULL), 0);
    const uint8_t *p = buf_ptr(&b);
    struct ton_cell *c = NULL;
    assert_int_equal(ton_boc_parse_one(p, b.len, &c, NULL), 0);
    assert_memory_equal(c->hash, root->hash, 32);
    ton_cell_unref(c);
    /* Every truncation fails, on an exact-size copy so ASan sees over-reads. */
    for (size_t n = 0; n < b.len; n++) {
      uint8_t *cut = malloc(n ? n : 1);
      assert_non_null(cut);
      memcpy(cut, p, n);
      struct err e = {0};
      c = NULL;
      if (ton_boc_parse_one(cut, n, &c, &e) == 0) fail_msg("truncation to %zu of %zu parsed (flags %u)", n, b.len, flags);
      free(cut);
    }
    /* One extra byte fails. */
    uint8_t *ext = malloc(b.len + 1);
    assert_non_null(ext);
    memcpy(ext, p, b.len);
    ext[b.len] = 0;
    assert_int_not_equal(ton_boc_parse_one(ext, b.len + 1, &c, NULL), 0);
    /* With a CRC every single bit flip is caught; without, parsing must stay safe. */
    for (size_t i = 0; i < b.len; i++) {
      for (int bit = 0; bit < 8; bit++) {
        memcpy(ext, p, b.len);
        ext[i] ^= (uint8_t)(1u << bit);
        c = NULL;
        int rc = ton_boc_parse_one(ext, b.len, &c, NULL);
        if (flags & TON_BOC_CRC) assert_int_not_equal(rc, 0);
        ton_cell_unref(c);
      }
    }
    free(ext);
    buf_free(&b);
  }
  ton_cell_unref(root);
  ton_cell_unref(mid);
  ton_cell_unref(leaf);
}

static void test_boc_bad_inputs(void **state) {
  (void)state;
  struct err e;
  /* Bad CRC (last byte of the empty cell's CRC changed). */
  assert_int_equal(parse_err("b5ee9c724101010100020000004cacb9ce", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "CRC32C"));
  /* Bad magic. */
  assert_int_equal(parse_err("b5ee9c73010101010002000000", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "magic"));
  /* A ref pointing backwards (cell 1 -> cell 0) and to itself. */
  assert_int_equal(parse_err("b5ee9c72010102010005000000010000", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "ref 0 points to cell 0"));
  assert_int_equal(parse_err("b5ee9c72010101010003000100" "00", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "ref 0 points to cell 0"));
  /* A ref beyond the cell count. */
  assert_int_equal(parse_err("b5ee9c72010101010003000100" "02", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "points to cell 2"));
  /* Absent cells, zero roots, more roots than cells, zero cells. */
  assert_int_equal(parse_err("b5ee9c72010101010102000000", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "absent"));
  assert_int_equal(parse_err("b5ee9c720101010000020000", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "no roots"));
  assert_int_equal(parse_err("b5ee9c7201010102000200000000", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "2 roots but 1 cells"));
  assert_int_equal(parse_err("b5ee9c72010100000000", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "no cells"));
  /* Cell area size disagreeing with the data; trailing bytes. */
  assert_int_equal(parse_err("b5ee9c72010101010003000000", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c7201010101000200000000", &e), ERR_PARSE);
  /* Size field 0 and 5, offset field 0 and 9, reserved flag bits. */
  assert_int_equal(parse_err("b5ee9c72000101010002000000", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c72050101010002000000", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c72010001010100020000", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c72010901010100000000000000000200000000", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c72090101010002000000", &e), ERR_PARSE);
  /* 5 refs in d1; stored-hashes bit; level mask on an ordinary cell. */
  assert_int_equal(parse_err("b5ee9c72010101010002000500", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c72010101010002001000", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c72010101010002002000", &e), ERR_PARSE);
  /* Padded data without a completion bit, and whole bytes marked as padded. */
  assert_int_equal(parse_err("b5ee9c7201010101000300000100", &e), ERR_PARSE);
  assert_int_equal(parse_err("b5ee9c7201010101000300000180", &e), ERR_PARSE);
  /* An index holding start offsets (the TON node reads cells through the index, so this
   * BoC cannot be loaded there; @ton/core ignores the index). */
  assert_int_equal(parse_err("b5ee9c7281010201000d00000701083ade68b1010008075bcd15", &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "index"));
  /* A cell count that cannot fit the bytes (no large allocation first). */
  assert_int_equal(parse_err("b5ee9c7204010000ffff00000001000000000002000000", &e), ERR_PARSE);
  /* Multiple roots: parse_one refuses, parse accepts. */
  static const char two_roots[] = "b5ee9c72010102020004000100000000";
  assert_int_equal(parse_err(two_roots, &e), ERR_PARSE);
  uint8_t *p;
  size_t n = unhex_dyn(two_roots, &p);
  struct ton_cell *roots[4];
  size_t nr = 0;
  assert_int_equal(ton_boc_parse(p, n, roots, 4, &nr, &e), 0);
  assert_int_equal(nr, 2);
  ton_cell_unref(roots[0]);
  ton_cell_unref(roots[1]);
  assert_int_equal(ton_boc_parse(p, n, roots, 1, &nr, &e), ERR_LIMIT);
  free(p);
  /* The legacy indexed magic is still read. */
  struct ton_cell *c = parse_hex("68ff65f3010101010002020000");
  assert_int_equal(c->bits, 0);
  ton_cell_unref(c);
}

static void test_boc_size_bytes(void **state) {
  (void)state;
  /* 300 distinct cells need 2-byte ref indexes; check the header and a round trip. */
  struct ton_cell *cur = NULL;
  for (unsigned i = 0; i < 300; i++) {
    struct ton_cell *next = cell_u(i, 16, cur ? &cur : NULL, cur ? 1 : 0);
    ton_cell_unref(cur);
    cur = next;
  }
  assert_int_equal(cur->depth, 299);
  struct buf b;
  buf_init(&b, 0);
  assert_int_equal(ton_boc_serialize(cur, TON_BOC_IDX | TON_BOC_CRC, &b, NULL), 0);
  assert_int_equal(buf_ptr(&b)[4], 0xc2); /* idx, crc, size 2 */
  assert_int_equal(buf_ptr(&b)[5], 2);    /* offsets fit 2 bytes */
  struct ton_cell *c = NULL;
  assert_int_equal(ton_boc_parse_one(buf_ptr(&b), b.len, &c, NULL), 0);
  assert_memory_equal(c->hash, cur->hash, 32);
  ton_cell_unref(c);
  ton_cell_unref(cur);
  buf_free(&b);
}

/* ---- cells, builder, slice ---- */

static void test_cell_limits(void **state) {
  (void)state;
  struct ton_builder b;
  ton_builder_init(&b);
  for (int i = 0; i < 1023; i++) assert_int_equal(ton_builder_store_bit(&b, i & 1), 0);
  assert_int_equal(ton_builder_store_bit(&b, 1), ERR_LIMIT);
  struct ton_cell *e = ton_cell_empty();
  for (int i = 0; i < 4; i++) assert_int_equal(ton_builder_store_ref(&b, e), 0);
  assert_int_equal(ton_builder_store_ref(&b, e), ERR_LIMIT);
  struct ton_cell *full = NULL;
  assert_int_equal(ton_builder_end(&b, &full, NULL), 0);
  assert_int_equal(full->bits, 1023);
  assert_int_equal(ton_cell_d2(full), 255);
  /* Round trip of a full cell through a BoC. */
  struct buf out;
  buf_init(&out, 0);
  assert_int_equal(ton_boc_serialize(full, TON_BOC_CRC, &out, NULL), 0);
  struct ton_cell *back = NULL;
  assert_int_equal(ton_boc_parse_one(buf_ptr(&out), out.len, &back, NULL), 0);
  assert_memory_equal(back->hash, full->hash, 32);
  ton_cell_unref(back);
  buf_free(&out);
  ton_cell_unref(full);

  ton_builder_init(&b);
  assert_int_equal(ton_builder_store_uint(&b, 8, 3), ERR_INVALID);
  assert_int_equal(ton_builder_store_int(&b, 4, 3), ERR_INVALID);
  assert_int_equal(ton_builder_store_int(&b, -5, 3), ERR_INVALID);
  assert_int_equal(ton_builder_store_int(&b, -4, 3), 0);
  assert_int_equal(ton_builder_store_uint(&b, UINT64_MAX, 64), 0);
  assert_int_equal(ton_builder_store_int(&b, INT64_MIN, 64), 0);
  assert_int_equal(ton_builder_bits_left(&b), 1023 - 3 - 128);
  ton_builder_clear(&b);

  /* Depth: 1024 is the most TVM allows. */
  struct ton_cell *cur = ton_cell_ref(e);
  for (int i = 0; i < 1024; i++) {
    struct ton_cell *next = NULL;
    assert_int_equal(ton_cell_new(NULL, 0, &cur, 1, &next, NULL), 0);
    ton_cell_unref(cur);
    cur = next;
  }
  assert_int_equal(cur->depth, 1024);
  struct ton_cell *deeper = NULL;
  assert_int_equal(ton_cell_new(NULL, 0, &cur, 1, &deeper, NULL), ERR_LIMIT);
  ton_cell_unref(cur);
  ton_cell_unref(e);
}

static void test_builder_slice_roundtrip(void **state) {
  (void)state;
  struct ton_builder b;
  ton_builder_init(&b);
  struct ton_addr a = {.wc = -1};
  memset(a.hash, 0x33, 32);
  uint8_t max_coins[15];
  memset(max_coins, 0xff, sizeof(max_coins));
  uint8_t too_big[16] = {1};
  assert_int_equal(ton_builder_store_uint(&b, 0xdeadbeef, 32), 0);
  assert_int_equal(ton_builder_store_int(&b, -12345, 20), 0);
  assert_int_equal(ton_builder_store_coins(&b, 0), 0);
  assert_int_equal(ton_builder_store_coins(&b, 1000000000ull), 0);
  assert_int_equal(ton_builder_store_varuint(&b, 16, max_coins, sizeof(max_coins)), 0);
  assert_int_equal(ton_builder_store_varuint(&b, 16, too_big, sizeof(too_big)), ERR_INVALID);
  assert_int_equal(ton_builder_store_addr(&b, &a), 0);
  assert_int_equal(ton_builder_store_addr(&b, NULL), 0);
  struct ton_cell *e = ton_cell_empty();
  assert_int_equal(ton_builder_store_maybe_ref(&b, NULL), 0);
  assert_int_equal(ton_builder_store_maybe_ref(&b, e), 0);
  struct ton_cell *c = NULL;
  assert_int_equal(ton_builder_end(&b, &c, NULL), 0);
  assert_int_equal(c->bits, 32 + 20 + 4 + (4 + 32) + (4 + 120) + 267 + 2 + 1 + 1);

  struct ton_slice s;
  ton_slice_init(&s, c);
  uint64_t u;
  int64_t i;
  assert_int_equal(ton_slice_load_uint(&s, 32, &u), 0);
  assert_int_equal(u, 0xdeadbeef);
  assert_int_equal(ton_slice_load_int(&s, 20, &i), 0);
  assert_int_equal(i, -12345);
  assert_int_equal(ton_slice_load_coins(&s, &u), 0);
  assert_int_equal(u, 0);
  assert_int_equal(ton_slice_load_coins(&s, &u), 0);
  assert_int_equal(u, 1000000000ull);
  struct ton_slice save = s;
  assert_int_equal(ton_slice_load_coins(&s, &u), ERR_LIMIT); /* 15 bytes do not fit 64 bits */
  assert_memory_equal(&s, &save, sizeof(s));
  uint8_t be[15];
  size_t n;
  assert_int_equal(ton_slice_load_varuint(&s, 16, be, sizeof(be), &n), 0);
  assert_int_equal(n, 15);
  assert_memory_equal(be, max_coins, 15);
  struct ton_addr got;
  int none = -1;
  assert_int_equal(ton_slice_load_addr(&s, &got, &none), 0);
  assert_int_equal(none, 0);
  assert_true(ton_addr_equal(&got, &a));
  assert_int_equal(ton_slice_load_addr(&s, &got, &none), 0);
  assert_int_equal(none, 1);
  const struct ton_cell *r;
  assert_int_equal(ton_slice_load_maybe_ref(&s, &r), 0);
  assert_null(r);
  assert_int_equal(ton_slice_end(&s), ERR_PARSE);
  assert_int_equal(ton_slice_load_maybe_ref(&s, &r), 0);
  assert_ptr_equal(r, e);
  assert_int_equal(ton_slice_end(&s), 0);
  assert_int_equal(ton_slice_load_uint(&s, 1, &u), ERR_PARSE);
  assert_int_equal(ton_slice_load_ref(&s, &r), ERR_PARSE);
  ton_cell_unref(c);
  ton_cell_unref(e);
}

static void test_data_hex(void **state) {
  (void)state;
  char s[300];
  struct ton_cell *c = cell_u(123456789, 34, NULL, 0);
  ton_cell_data_hex(c, s, sizeof(s));
  assert_string_equal(s, "01d6f3456_");
  ton_cell_unref(c);
  c = cell_u(123456789, 32, NULL, 0);
  ton_cell_data_hex(c, s, sizeof(s));
  assert_string_equal(s, "075bcd15");
  ton_cell_unref(c);
}

/* ---- addresses (vectors from ton-org/ton-core src/address/Address.spec.ts) ---- */

static void test_address_vectors(void **state) {
  (void)state;
  static const struct {
    const char *s;
    int b, t, url;
  } forms[] = {
      {"EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB", 1, 0, 1},
      {"kQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi47nL", 1, 1, 1},
      {"EQAs9VlT6S776tq3unJcP5Ogsj+ELLunLXuOb1EKcOQi4wJB", 1, 0, 0},
      {"kQAs9VlT6S776tq3unJcP5Ogsj+ELLunLXuOb1EKcOQi47nL", 1, 1, 0},
      {"UQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi41-E", 0, 0, 1},
      {"0QAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4-QO", 0, 1, 1},
      {"UQAs9VlT6S776tq3unJcP5Ogsj+ELLunLXuOb1EKcOQi41+E", 0, 0, 0},
      {"0QAs9VlT6S776tq3unJcP5Ogsj+ELLunLXuOb1EKcOQi4+QO", 0, 1, 0},
  };
  static const char raw[] = "0:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3";
  struct ton_addr a, p;
  struct ton_addr_form f;
  assert_int_equal(ton_addr_parse(raw, &a, &f, NULL), 0);
  assert_int_equal(f.friendly, 0);
  char s[TON_ADDR_RAW_MAX];
  ton_addr_to_raw(&a, s, sizeof(s));
  assert_string_equal(s, raw);
  for (size_t i = 0; i < CC_ARRAY_LEN(forms); i++) {
    char out[64];
    assert_int_equal(ton_addr_to_friendly(&a, forms[i].b, forms[i].t, forms[i].url, out, sizeof(out)), 0);
    assert_string_equal(out, forms[i].s);
    assert_int_equal(ton_addr_parse(forms[i].s, &p, &f, NULL), 0);
    assert_true(ton_addr_equal(&a, &p));
    assert_int_equal(f.friendly, 1);
    assert_int_equal(f.bounceable, forms[i].b);
    assert_int_equal(f.testnet, forms[i].t);
    assert_int_equal(f.urlsafe, forms[i].url);
  }
  assert_int_equal(ton_addr_parse("-1:3333333333333333333333333333333333333333333333333333333333333333", &p, NULL, NULL), 0);
  assert_int_equal(p.wc, -1);
  assert_int_equal(p.hash[31], 0x33);
  /* Uppercase hex is read; the output is lowercase. */
  assert_int_equal(ton_addr_parse("0:2CF55953E92EFBEADAB7BA725C3F93A0B23F842CBBA72D7B8E6F510A70E422E3", &p, NULL, NULL), 0);
  assert_true(ton_addr_equal(&a, &p));
}

static void test_address_errors(void **state) {
  (void)state;
  struct ton_addr a;
  struct err e;
  static const struct {
    const char *s, *needle;
  } bad[] = {
      {"", "empty"},
      {"0:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422", "62 hex"},
      {"0:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e", "63 hex"},
      {"0:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422zz", "not hexadecimal"},
      {"128:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3", "outside"},
      {"x:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3", "not a number"},
      {":2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3", "workchain"},
      {"-:2cf55953e92efbeadab7ba725c3f93a0b23f842cbba72d7b8e6f510a70e422e3", "no digits"},
      {"EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJ", "47 characters"},
      {"ton://EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB", "workchain"},
      {"EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJC", "CRC16"},
      {"EQAs9VlT6S776tq3unJcP5Ogsj+ELLunLXuOb1EKcOQi41-E", "mixes"},
      {"!@#$%^&*AAAAAAAAAAAAAA AAAAAAAAAA AAAAAAAAAAAA A", "not base64"},
      {"                                                ", "not base64"},
  };
  for (size_t i = 0; i < CC_ARRAY_LEN(bad); i++) {
    memset(&e, 0, sizeof(e));
    assert_int_equal(ton_addr_parse(bad[i].s, &a, NULL, &e), ERR_PARSE);
    if (!strstr(e.msg, bad[i].needle)) fail_msg("'%s': message '%s' lacks '%s'", bad[i].s, e.msg, bad[i].needle);
  }
  /* A correct CRC over an unknown tag byte (0x12). */
  uint8_t raw[36] = {0x12, 0};
  uint16_t crc = ton_crc16(raw, 34);
  raw[34] = (uint8_t)(crc >> 8);
  raw[35] = (uint8_t)crc;
  static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
  char s[49];
  for (size_t i = 0, o = 0; i < 36; i += 3) {
    uint32_t v = (uint32_t)raw[i] << 16 | (uint32_t)raw[i + 1] << 8 | raw[i + 2];
    for (int k = 3; k >= 0; k--) s[o++] = b64[(v >> (6 * k)) & 63];
  }
  s[48] = '\0';
  assert_int_equal(ton_addr_parse(s, &a, NULL, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "tag"));
  /* Every single-character change of a friendly address is caught. */
  char m[49];
  static const char addr[] = "EQAs9VlT6S776tq3unJcP5Ogsj-ELLunLXuOb1EKcOQi4wJB";
  for (size_t i = 0; i < 48; i++) {
    for (size_t k = 0; k < 64; k++) {
      memcpy(m, addr, sizeof(m));
      if (m[i] == b64[k]) continue;
      m[i] = b64[k];
      if (ton_addr_parse(m, &a, NULL, NULL) == 0) fail_msg("mutation %s accepted", m);
    }
  }
}

/* ---- wallets ---- */

static void test_wallets(void **state) {
  (void)state;
  struct ton_cell *code = NULL;
  assert_int_equal(ton_wallet_code(TON_WALLET_V4R2, &code, NULL), 0);
  assert_hash(code, TON_WALLET_V4R2_CODE_HASH);
  ton_cell_unref(code);
  assert_int_equal(ton_wallet_code(TON_WALLET_V5R1, &code, NULL), 0);
  assert_hash(code, TON_WALLET_V5R1_CODE_HASH);
  ton_cell_unref(code);
  assert_int_equal(ton_wallet_default_id(TON_WALLET_V5R1, 0, 0), 0x7FFFFF11u);
  assert_int_equal(ton_wallet_default_id(TON_WALLET_V4R2, 0, 0), 698983191u);
  assert_int_equal(ton_wallet_default_id(TON_WALLET_V4R2, -1, 0), 698983190u);

  /* Addresses @ton/ton 16.3.0 gives for the public key 0x11 * 32 on workchain 0. */
  uint8_t pk[32];
  memset(pk, 0x11, 32);
  struct ton_wallet w;
  struct ton_addr a;
  char raw[TON_ADDR_RAW_MAX], fr[64];
  assert_int_equal(ton_wallet_init(&w, TON_WALLET_V4R2, 0, pk, 0), 0);
  assert_int_equal(ton_wallet_address(&w, &a, NULL), 0);
  ton_addr_to_raw(&a, raw, sizeof(raw));
  assert_string_equal(raw, "0:80c0eae40a5e9c3e2feb88224053706adc9cc2b1d1a0dd203cfdbfadefa6aa06");
  assert_int_equal(ton_wallet_init(&w, TON_WALLET_V5R1, 0, pk, 0), 0);
  assert_int_equal(ton_wallet_address(&w, &a, NULL), 0);
  ton_addr_to_raw(&a, raw, sizeof(raw));
  assert_string_equal(raw, "0:5889937f42c25258cb60d6098f23b968fb167f66f12a2e7678296a9e9512e9aa");
  assert_int_equal(ton_addr_to_friendly(&a, 0, 0, 1, fr, sizeof(fr)), 0);
  assert_string_equal(fr, "UQBYiZN_QsJSWMtg1gmPI7lo-xZ_ZvEqLnZ4KWqelRLpquju");

  enum ton_wallet_kind k;
  assert_int_equal(ton_wallet_kind_parse("v4r2", &k), 0);
  assert_int_equal(k, TON_WALLET_V4R2);
  assert_int_equal(ton_wallet_kind_parse("v3r2", &k), ERR_INVALID);
  assert_int_equal(ton_wallet_init(&w, TON_WALLET_V4R2, 128, pk, 0), ERR_INVALID);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_crc),
      cmocka_unit_test(test_official_vectors),
      cmocka_unit_test(test_official_wallet_bocs),
      cmocka_unit_test(test_exotic_refused),
      cmocka_unit_test(test_stateinit_golden),
      cmocka_unit_test(test_boc_truncations_and_flips),
      cmocka_unit_test(test_boc_bad_inputs),
      cmocka_unit_test(test_boc_size_bytes),
      cmocka_unit_test(test_cell_limits),
      cmocka_unit_test(test_builder_slice_roundtrip),
      cmocka_unit_test(test_data_hex),
      cmocka_unit_test(test_address_vectors),
      cmocka_unit_test(test_address_errors),
      cmocka_unit_test(test_wallets),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
