/* test_tokenizer: BPE and SPM tokenizers from GGUF metadata: round trips, special tokens, pre-tokenizers, limits. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/gguf_write.h"
#include "engine/testmodel.h"
#include "engine/tok_unicode.h"
#include "engine/tokenizer.h"

/* A loaded tokenizer with the buffers it came from. */
struct loaded {
  char *buf;
  size_t len;
  struct gguf *g;
  struct tok *t;
};

static void load_mem(struct loaded *l) {
  struct err e = {0};
  if (gguf_open_mem(l->buf, l->len, &l->g, &e)) fail_msg("gguf_open_mem: %s", e.msg);
  if (tok_load(l->g, &l->t, &e)) fail_msg("tok_load: %s", e.msg);
}

static void load_model(struct loaded *l, const char *arch, const char *tokenizer) {
  memset(l, 0, sizeof(*l));
  struct testmodel_opts o = {arch, "micro", QUANT_F32, 11, tokenizer, -1};
  FILE *f = open_memstream(&l->buf, &l->len);
  assert_non_null(f);
  struct err e = {0};
  if (testmodel_write(&o, f, &e)) fail_msg("testmodel_write: %s", e.msg);
  assert_int_equal(fclose(f), 0);
  load_mem(l);
}

static void unload(struct loaded *l) {
  tok_free(l->t);
  gguf_free(l->g);
  free(l->buf);
  memset(l, 0, sizeof(*l));
}

/* Encodes into a fresh array (*n ids); parse_special selects TOK_ENC_PARSE_SPECIAL. */
static int32_t *enc(const struct tok *t, const char *s, size_t len, int parse_special, size_t *n) {
  struct err e = {0};
  size_t cap = 4 * len + 8;
  int32_t *ids = malloc(cap * sizeof(*ids));
  assert_non_null(ids);
  int rc = tok_encode_ex(t, s, len, parse_special ? TOK_ENC_PARSE_SPECIAL : 0, ids, cap, n, &e);
  if (rc) fail_msg("tok_encode_ex: %s", e.msg);
  assert_true(*n <= 2 * len + 2); /* a token per byte, plus SPM's space prefixes */
  return ids;
}

static void check_round_trip(const struct tok *t, const char *s, size_t len, int parse_special) {
  size_t n = 0, out_len = 0;
  int32_t *ids = enc(t, s, len, parse_special, &n);
  char *out = malloc(len + 16);
  assert_non_null(out);
  struct err e = {0};
  int rc = tok_detokenize(t, ids, n, 1, out, len + 16, &out_len, &e);
  if (rc) fail_msg("tok_detokenize: %s", e.msg);
  if (out_len != len || memcmp(out, s, len) != 0) {
    fprintf(stderr, "round trip failed for %zu bytes:", len);
    for (size_t i = 0; i < len && i < 64; i++) fprintf(stderr, " %02x", (unsigned char)s[i]);
    fprintf(stderr, "\n got %zu bytes:", out_len);
    for (size_t i = 0; i < out_len && i < 64; i++) fprintf(stderr, " %02x", (unsigned char)out[i]);
    fprintf(stderr, "\n");
    fail();
  }
  free(out);
  free(ids);
}

static uint64_t rng_next(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Random text: ASCII, spaces and newlines, 2/3/4-byte characters, special-token texts and (when
 * invalid) stray bytes. U+2581 is left out: SPM decodes it as a space. */
static size_t random_text(uint64_t *rng, char *buf, size_t cap, int invalid) {
  static const char *const pieces[] = {" ", "  ", "\n", "\t", "\r\n", "é", "中", "😀", "👍🏽", "\xc2\xa0",
                                       "<|im_start|>", "<|im_end|>", "<|eot_id|>", "<s>", "</s>", "<unk>",
                                       "'s", "123", "the", " of", "\xf0\x9f\x87\xba"};
  size_t n = 0, want = rng_next(rng) % 120;
  while (n < want && n + 16 < cap) {
    uint64_t r = rng_next(rng) % 10;
    if (r < 4) {
      buf[n++] = (char)(0x20 + rng_next(rng) % 95);
    } else if (r < 7) {
      const char *p = pieces[rng_next(rng) % (sizeof(pieces) / sizeof(pieces[0]))];
      memcpy(buf + n, p, strlen(p));
      n += strlen(p);
    } else if (r < 9) {
      uint32_t cp;
      do {
        uint64_t k = rng_next(rng) % 3;
        cp = k == 0 ? 0x80 + (uint32_t)(rng_next(rng) % 0x780)
             : k == 1 ? 0x800 + (uint32_t)(rng_next(rng) % 0xF800)
                      : 0x10000 + (uint32_t)(rng_next(rng) % 0x100000);
      } while ((cp >= 0xD800 && cp <= 0xDFFF) || cp == 0x2581);
      n += utf8_put(cp, (uint8_t *)buf + n);
    } else if (invalid) {
      static const uint8_t bad[] = {0x80, 0xBF, 0xC0, 0xC1, 0xC3, 0xE2, 0xED, 0xF0, 0xF4, 0xF5, 0xFE, 0xFF};
      buf[n++] = (char)bad[rng_next(rng) % sizeof(bad)];
    } else {
      buf[n++] = (char)(1 + rng_next(rng) % 0x7F);
    }
  }
  return n;
}

static void round_trips(const char *arch, const char *tokenizer) {
  struct loaded l;
  load_model(&l, arch, tokenizer);
  uint64_t rng = 42;
  char buf[512];
  for (int i = 0; i < 400; i++) {
    size_t n = random_text(&rng, buf, sizeof(buf), i % 2);
    check_round_trip(l.t, buf, n, i % 3 != 0);
  }
  /* Long whitespace runs and text around them. */
  static const char *const ws[] = {" ", "\n", "\t", "\r\n", " \n", "\xe3\x80\x80"};
  for (size_t k = 0; k < sizeof(ws) / sizeof(ws[0]); k++) {
    size_t wl = strlen(ws[k]), total = 0;
    char *big = malloc(5000 * wl + 8);
    assert_non_null(big);
    big[total++] = 'x';
    for (int j = 0; j < 5000; j++, total += wl) memcpy(big + total, ws[k], wl);
    big[total++] = 'y';
    check_round_trip(l.t, big, total, 1);
    check_round_trip(l.t, big + 1, total - 2, 1); /* only whitespace */
    free(big);
  }
  unload(&l);
}

static void test_round_trip_qwen2(void **state) { round_trips("qwen2", "gpt2"); }
static void test_round_trip_qwen3(void **state) { round_trips("qwen3", "gpt2"); }
static void test_round_trip_llama_bpe(void **state) { round_trips("llama", "gpt2"); }
static void test_round_trip_spm(void **state) { round_trips("llama", "llama"); }

static void test_metadata(void **state) {
  struct loaded l;
  struct testmodel_shape sh;
  struct testmodel_opts o = {"qwen2", "micro", QUANT_F32, 11, "gpt2", -1};
  assert_int_equal(testmodel_shape(&o, &sh, NULL), 0);
  load_model(&l, "qwen2", "gpt2");
  assert_int_equal(tok_get_kind(l.t), TOK_KIND_BPE);
  assert_int_equal(tok_get_pre(l.t), TOK_PRE_QWEN2);
  assert_int_equal(tok_vocab_size(l.t), sh.n_vocab);
  int32_t eot = tok_find(l.t, "<|im_end|>", 10);
  assert_true(eot >= 0);
  assert_int_equal(tok_eot(l.t), eot);
  assert_int_equal(tok_eos(l.t), eot);
  assert_true(tok_is_eog(l.t, eot));
  assert_true(tok_is_special(l.t, eot));
  assert_int_equal(tok_type_of(l.t, eot), TOK_TYPE_CONTROL);
  assert_false(tok_is_special(l.t, 65));
  assert_false(tok_add_bos_default(l.t));
  assert_false(tok_is_special(l.t, -1));
  assert_null(tok_text(l.t, (int32_t)sh.n_vocab, NULL));
  char piece[16];
  assert_int_equal(tok_decode_piece(l.t, (int32_t)sh.n_vocab, piece, sizeof(piece)), ERR_INVALID);
  assert_int_equal(tok_decode_piece(l.t, -5, piece, sizeof(piece)), ERR_INVALID);
  /* Byte tokens: token i < 256 is byte i. */
  for (int b = 0; b < 256; b++) {
    assert_int_equal(tok_decode_piece(l.t, b, piece, sizeof(piece)), 1);
    assert_int_equal((unsigned char)piece[0], b);
  }
  unload(&l);

  load_model(&l, "llama", "gpt2");
  assert_int_equal(tok_get_pre(l.t), TOK_PRE_LLAMA3);
  assert_true(tok_add_bos_default(l.t));
  assert_int_equal(tok_bos(l.t), tok_find(l.t, "<|begin_of_text|>", 17));
  assert_int_equal(tok_eot(l.t), tok_find(l.t, "<|eot_id|>", 10));
  unload(&l);

  load_model(&l, "llama", "llama");
  assert_int_equal(tok_get_kind(l.t), TOK_KIND_SPM);
  assert_int_equal(tok_bos(l.t), 1);
  assert_int_equal(tok_eos(l.t), 2);
  assert_true(tok_add_bos_default(l.t));
  assert_int_equal(tok_decode_piece(l.t, tok_find(l.t, "<0x41>", 6), piece, sizeof(piece)), 1);
  assert_int_equal(piece[0], 'A');
  int32_t sp = tok_find(l.t, "\xe2\x96\x81", 3);
  assert_int_equal(tok_decode_piece(l.t, sp, piece, sizeof(piece)), 1);
  assert_int_equal(piece[0], ' ');
  unload(&l);
}

static void test_special_tokens(void **state) {
  struct loaded l;
  load_model(&l, "qwen3", "gpt2");
  const char *s = "<|im_start|>user\nhi<|im_end|>";
  int32_t st = tok_find(l.t, "<|im_start|>", 12), en = tok_find(l.t, "<|im_end|>", 10);
  size_t n;
  int32_t *ids = enc(l.t, s, strlen(s), 1, &n);
  assert_true(n >= 3);
  assert_int_equal(ids[0], st);
  assert_int_equal(ids[n - 1], en);
  free(ids);
  /* Without parsing, the texts are ordinary text. */
  ids = enc(l.t, s, strlen(s), 0, &n);
  for (size_t i = 0; i < n; i++) assert_true(ids[i] != st && ids[i] != en);
  free(ids);
  check_round_trip(l.t, s, strlen(s), 0);
  /* Control tokens are left out of the text unless rendered. */
  int32_t two[2] = {st, 104};
  char out[64];
  size_t len;
  struct err e = {0};
  assert_int_equal(tok_detokenize(l.t, two, 2, 0, out, sizeof(out), &len, &e), 0);
  assert_int_equal(len, 1);
  assert_int_equal(out[0], 'h');
  /* tok_encode parses special tokens and prepends BOS when asked. */
  int32_t buf[64];
  assert_int_equal(tok_encode(l.t, s, strlen(s), 1, buf, 64, &n, &e), 0);
  assert_int_equal(buf[0], tok_bos(l.t));
  assert_int_equal(buf[1], st);
  unload(&l);

  /* SPM: the space prefix comes back after every special token and is removed again. */
  load_model(&l, "llama", "llama");
  const char *t2 = "a<s>b </s> c";
  ids = enc(l.t, t2, strlen(t2), 1, &n);
  int seen_bos = 0;
  for (size_t i = 0; i < n; i++) seen_bos |= ids[i] == 1;
  assert_true(seen_bos);
  free(ids);
  check_round_trip(l.t, t2, strlen(t2), 1);
  check_round_trip(l.t, "<unk>", 5, 1);
  /* U+2581 in the input is the SPM space: it decodes as a space (the one normalization). */
  ids = enc(l.t, "a\xe2\x96\x81" "b", 5, 1, &n);
  assert_int_equal(tok_detokenize(l.t, ids, n, 1, out, sizeof(out), &len, &e), 0);
  assert_int_equal(len, 3);
  assert_memory_equal(out, "a b", 3);
  free(ids);
  unload(&l);
}

static void test_empty_and_limits(void **state) {
  struct loaded l;
  load_model(&l, "qwen2", "gpt2");
  struct err e = {0};
  size_t n = 99;
  int32_t ids[4];
  assert_int_equal(tok_encode(l.t, "", 0, 0, ids, 4, &n, &e), 0);
  assert_int_equal(n, 0);
  assert_int_equal(tok_encode(l.t, NULL, 0, 0, NULL, 0, &n, &e), 0);
  assert_int_equal(n, 0);
  assert_int_equal(tok_encode_ex(l.t, "", 0, TOK_ENC_ADD_BOS, ids, 4, &n, &e), 0);
  assert_int_equal(n, 1);
  assert_int_equal(ids[0], tok_bos(l.t));
  /* Too small an array: ERR_LIMIT with the count needed; the prefix is written. */
  const char *s = "x y z w v u";
  assert_int_equal(tok_encode(l.t, s, strlen(s), 0, ids, 2, &n, &e), ERR_LIMIT);
  assert_true(n > 2);
  int32_t *full = calloc(n, sizeof(*full));
  size_t n2;
  assert_int_equal(tok_encode(l.t, s, strlen(s), 0, full, n, &n2, &e), 0);
  assert_int_equal(n2, n);
  assert_memory_equal(full, ids, 2 * sizeof(*ids));
  char out[4];
  size_t len;
  assert_int_equal(tok_detokenize(l.t, full, n2, 1, out, sizeof(out), &len, &e), ERR_LIMIT);
  assert_int_equal(len, strlen(s));
  assert_memory_equal(out, s, sizeof(out));
  int32_t bad = -1;
  assert_int_equal(tok_detokenize(l.t, &bad, 1, 1, out, sizeof(out), &len, &e), ERR_INVALID);
  free(full);
  assert_int_equal(tok_encode(l.t, "x", (size_t)TOK_MAX_INPUT + 1, 0, ids, 4, &n, &e), ERR_LIMIT);
  unload(&l);
}

/* ---- a hand-made vocabulary: the pre-tokenizers decide how digits and spaces split ---- */

static void write_vocab(struct loaded *l, const char *model, const char *pre, const char *const *extra, size_t n_extra,
                        const char *const *merges, size_t n_merges) {
  memset(l, 0, sizeof(*l));
  struct gguf_writer *w = gguf_writer_new();
  assert_non_null(w);
  const char *toks[300];
  char byte_text[256][3];
  size_t n = 0;
  for (unsigned b = 0; b < 256; b++) {
    uint8_t u[4];
    size_t k = utf8_put(b >= 0x21 && b <= 0x7E ? b : 0x100 + b, u); /* any unique text for unused bytes */
    if ((b >= 0x21 && b <= 0x7E)) k = utf8_put(b, u);
    memcpy(byte_text[b], u, k);
    byte_text[b][k] = 0;
  }
  /* Real GPT-2 symbols for space and newline so merges can use them. */
  static const char gspace[] = "\xc4\xa0", gnl[] = "\xc4\x8a";
  for (unsigned b = 0; b < 256; b++) toks[n++] = b == ' ' ? gspace : b == '\n' ? gnl : byte_text[b];
  for (size_t i = 0; i < n_extra; i++) toks[n++] = extra[i];
  struct err e = {0};
  assert_int_equal(gguf_writer_kv_str(w, "tokenizer.ggml.model", model, &e), 0);
  if (pre) assert_int_equal(gguf_writer_kv_str(w, "tokenizer.ggml.pre", pre, &e), 0);
  assert_int_equal(gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", toks, NULL, n, &e), 0);
  if (merges) assert_int_equal(gguf_writer_kv_arr_str(w, "tokenizer.ggml.merges", merges, NULL, n_merges, &e), 0);
  FILE *f = open_memstream(&l->buf, &l->len);
  assert_non_null(f);
  assert_int_equal(gguf_writer_begin(w, f, &e), 0);
  assert_int_equal(gguf_writer_finish(w, &e), 0);
  assert_int_equal(fclose(f), 0);
  gguf_writer_free(w);
}

static size_t count(const struct tok *t, const char *s) {
  size_t n;
  int32_t *ids = enc(t, s, strlen(s), 1, &n);
  free(ids);
  return n;
}

static void test_pretokenizers(void **state) {
  static const char *const extra[] = {"12", "123", "45", "\xc4\xa0\xc4\xa0", "\xc4\xa0\xc4\xa0\xc4\xa0", "ab"};
  static const char *const merges[] = {"1 2", "12 3", "4 5", "\xc4\xa0 \xc4\xa0", "\xc4\xa0\xc4\xa0 \xc4\xa0", "a b"};
  struct loaded l;
  /* llama-bpe: digits in runs of up to three. */
  write_vocab(&l, "gpt2", "llama-bpe", extra, 6, merges, 6);
  load_mem(&l);
  assert_int_equal(count(l.t, "12345"), 2);  /* 123 | 45 */
  assert_int_equal(count(l.t, "1234"), 2);   /* 123 | 4 */
  assert_int_equal(count(l.t, "   x"), 3);   /* "  " (\s+(?!\S), merged) | " x" (no merge: 2 bytes) */
  assert_int_equal(count(l.t, "   "), 1);    /* a trailing run stays whole: merged to one token */
  check_round_trip(l.t, "12345 \n\n 123", 12, 1);
  unload(&l);
  /* qwen2: one digit per pre-token, so no digit merge fires. */
  write_vocab(&l, "gpt2", "qwen2", extra, 6, merges, 6);
  load_mem(&l);
  assert_int_equal(count(l.t, "12345"), 5);
  assert_int_equal(count(l.t, "ab"), 1);
  unload(&l);
  /* gpt-2: digit runs stay together. */
  write_vocab(&l, "gpt2", "gpt-2", extra, 6, merges, 6);
  load_mem(&l);
  assert_int_equal(count(l.t, "12345"), 2); /* 123 + 45 by merges */
  assert_int_equal(tok_get_pre(l.t), TOK_PRE_GPT2);
  unload(&l);
}

static void test_load_errors(void **state) {
  struct loaded l;
  struct err e = {0};
  static const char *const m1[] = {"a b"};
  write_vocab(&l, "bert", NULL, NULL, 0, m1, 1);
  assert_int_equal(gguf_open_mem(l.buf, l.len, &l.g, &e), 0);
  assert_int_equal(tok_load(l.g, &l.t, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "bert"));
  unload(&l);
  write_vocab(&l, "gpt2", "mystery", NULL, 0, m1, 1);
  assert_int_equal(gguf_open_mem(l.buf, l.len, &l.g, &e), 0);
  assert_int_equal(tok_load(l.g, &l.t, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "mystery"));
  unload(&l);
  write_vocab(&l, "gpt2", "qwen2", NULL, 0, NULL, 0);
  assert_int_equal(gguf_open_mem(l.buf, l.len, &l.g, &e), 0);
  assert_int_equal(tok_load(l.g, &l.t, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "merges"));
  unload(&l);
  static const char *const dup[] = {"a"};
  write_vocab(&l, "gpt2", "qwen2", dup, 1, m1, 1);
  assert_int_equal(gguf_open_mem(l.buf, l.len, &l.g, &e), 0);
  assert_int_equal(tok_load(l.g, &l.t, &e), ERR_PARSE);
  assert_non_null(strstr(e.msg, "duplicate"));
  unload(&l);
  tok_free(NULL);
}

static void test_utf8(void **state) {
  size_t k;
  assert_int_equal(utf8_next((const uint8_t *)"\xc3\xa9", 2, &k), 0xE9);
  assert_int_equal(k, 2);
  assert_int_equal(utf8_next((const uint8_t *)"\xf0\x9f\x98\x80", 4, &k), 0x1F600);
  assert_int_equal(k, 4);
  assert_int_equal(utf8_next((const uint8_t *)"\xc0\x80", 2, &k), UTF8_INVALID); /* overlong */
  assert_int_equal(k, 1);
  assert_int_equal(utf8_next((const uint8_t *)"\xed\xa0\x80", 3, &k), UTF8_INVALID); /* surrogate */
  assert_int_equal(utf8_next((const uint8_t *)"\xf4\x90\x80\x80", 4, &k), UTF8_INVALID);
  assert_int_equal(utf8_next((const uint8_t *)"\xe2\x82", 2, &k), UTF8_INVALID); /* truncated */
  assert_true(tok_uni_is_letter('a') && tok_uni_is_letter(0x4E2D) && tok_uni_is_letter(0x1D518));
  assert_false(tok_uni_is_letter('1') || tok_uni_is_letter(0x1F600) || tok_uni_is_letter(0x301));
  assert_true(tok_uni_is_number('7') && tok_uni_is_number(0x663) && tok_uni_is_number(0xB2) && tok_uni_is_number(0x216B));
  assert_true(tok_uni_is_whitespace(0x3000) && tok_uni_is_whitespace(0x85) && tok_uni_is_whitespace(0x2009));
  assert_false(tok_uni_is_whitespace(0x200B) || tok_uni_is_whitespace(0xFEFF));
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_utf8),
      cmocka_unit_test(test_metadata),
      cmocka_unit_test(test_special_tokens),
      cmocka_unit_test(test_empty_and_limits),
      cmocka_unit_test(test_pretokenizers),
      cmocka_unit_test(test_load_errors),
      cmocka_unit_test(test_round_trip_qwen2),
      cmocka_unit_test(test_round_trip_qwen3),
      cmocka_unit_test(test_round_trip_llama_bpe),
      cmocka_unit_test(test_round_trip_spm),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
