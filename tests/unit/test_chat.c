/* test_chat: chat templates (detection, ChatML, Llama-3, Qwen3 thinking) and text output with stop strings. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "engine/chat.h"
#include "engine/gguf.h"
#include "engine/quant.h"
#include "engine/testmodel.h"
#include "engine/textout.h"
#include "engine/tokenizer.h"

struct loaded {
  char *buf;
  size_t len;
  struct gguf *g;
  struct tok *t;
};

static void load(struct loaded *l, const char *arch, const char *tokenizer) {
  struct testmodel_opts o = {.arch = arch, .preset = "tiny", .type = QUANT_F32, .seed = 3, .tokenizer = tokenizer,
                             .tied = -1};
  FILE *f = open_memstream(&l->buf, &l->len);
  assert_non_null(f);
  struct err e = {0};
  if (testmodel_write(&o, f, &e) != 0) fail_msg("testmodel_write: %s", e.msg);
  assert_int_equal(fclose(f), 0);
  if (gguf_open_mem(l->buf, l->len, &l->g, &e) != 0) fail_msg("gguf_open_mem: %s", e.msg);
  if (tok_load(l->g, &l->t, &e) != 0) fail_msg("tok_load: %s", e.msg);
}

static void unload(struct loaded *l) {
  tok_free(l->t);
  gguf_free(l->g);
  free(l->buf);
}

#define MSG(r, c) {(r), strlen(r), (c), strlen(c)}

static void render_eq(const struct chat_template *t, const struct chat_msg *m, size_t n, int think, const char *want) {
  struct buf out;
  buf_init(&out, 0);
  struct err e = {0};
  if (chat_render(t, m, n, think, &out, &e) != 0) fail_msg("chat_render: %s", e.msg);
  assert_int_equal(out.len, strlen(want));
  assert_memory_equal(buf_ptr(&out), want, out.len);
  buf_free(&out);
}

static void test_detect(void **state) {
  (void)state;
  struct {
    const char *arch, *tokenizer;
    enum chat_format f;
    int thinking;
  } cases[] = {
      {"qwen2", "gpt2", CHAT_FORMAT_CHATML, 0},
      {"qwen3", "gpt2", CHAT_FORMAT_CHATML, 1},
      {"llama", "gpt2", CHAT_FORMAT_LLAMA3, 0},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    struct loaded l;
    load(&l, cases[i].arch, cases[i].tokenizer);
    struct chat_template t;
    struct err e = {0};
    if (chat_template_detect(l.g, &t, &e) != 0) fail_msg("%s: %s", cases[i].arch, e.msg);
    assert_int_equal(t.format, cases[i].f);
    assert_int_equal(t.thinking, cases[i].thinking);
    assert_null(t.default_system);
    unload(&l);
  }
}

static void test_render(void **state) {
  (void)state;
  struct chat_msg conv[] = {MSG("system", "Be brief."), MSG("user", "  Hi!\n"), MSG("assistant", "Hello."),
                            MSG("user", "2+2?")};
  struct chat_template chatml = {CHAT_FORMAT_CHATML, 0, NULL, 0};
  render_eq(&chatml, conv, 4, -1,
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\n  Hi!\n<|im_end|>\n"
            "<|im_start|>assistant\nHello.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  /* Qwen3: thinking on by default (nothing added), off adds the empty block. */
  struct chat_template qwen3 = {CHAT_FORMAT_CHATML, 1, NULL, 0};
  render_eq(&qwen3, conv + 3, 1, -1, "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  render_eq(&qwen3, conv + 3, 1, 1, "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  render_eq(&qwen3, conv + 3, 1, 0,
            "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n");
  /* The switch means nothing to a template without it. */
  render_eq(&chatml, conv + 3, 1, 0, "<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  /* Qwen2.5's default system turn, only when the conversation has none. */
  struct chat_template q25 = {CHAT_FORMAT_CHATML, 0, "You are Qwen.", 0};
  render_eq(&q25, conv + 3, 1, -1,
            "<|im_start|>system\nYou are Qwen.<|im_end|>\n<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n");
  render_eq(&q25, conv, 1, -1, "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>assistant\n");
  /* Llama-3 trims each content. */
  struct chat_template l3 = {CHAT_FORMAT_LLAMA3, 0, NULL, 0};
  render_eq(&l3, conv, 2, -1,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  /* Llama-3.1: the system turn with its dates always comes first, holding the system message. */
  struct chat_template l31 = {CHAT_FORMAT_LLAMA3, 0, NULL, 1};
  render_eq(&l31, conv, 2, -1,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\nBe brief.<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  render_eq(&l31, conv + 3, 1, -1,
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
            "Today Date: 26 Jul 2024\n\n<|eot_id|>"
            "<|start_header_id|>user<|end_header_id|>\n\n2+2?<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
  /* Refusals. */
  struct buf out;
  buf_init(&out, 0);
  struct err e = {0};
  struct chat_msg bad[] = {MSG("robot", "x")};
  assert_int_equal(chat_render(&chatml, bad, 1, -1, &out, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "role"));
  assert_int_equal(chat_render(&chatml, conv, 0, -1, &out, &e), ERR_INVALID);
  buf_free(&out);
}

static int valid_utf8(const uint8_t *p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    size_t k = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!k || i + k > n) return 0;
    for (size_t j = 1; j < k; j++)
      if ((p[i + j] & 0xc0) != 0x80) return 0;
    i += k;
  }
  return 1;
}

/* Feeds text's tokens one by one; returns the index of the token that completed the stop (or -1). */
static int run_textout(const struct tok *t, const char *text, const char *stop, struct buf *got) {
  int32_t ids[256];
  size_t n = 0;
  struct err e = {0};
  if (tok_encode_ex(t, text, strlen(text), 0, ids, 256, &n, &e) != 0) fail_msg("encode: %s", e.msg);
  struct textout *o = NULL;
  size_t sl = stop ? strlen(stop) : 0;
  assert_int_equal(textout_new(t, stop ? &stop : NULL, stop ? &sl : NULL, stop ? 1 : 0, &o, &e), 0);
  int at = -1;
  for (size_t i = 0; i < n; i++) {
    int rc = textout_feed(o, ids[i], got);
    assert_true(rc == 0 || rc == 1);
    assert_true(valid_utf8(buf_ptr(got), got->len));
    if (stop) assert_null(memmem(buf_ptr(got) ? (const char *)buf_ptr(got) : "", got->len, stop, sl));
    if (rc == 1) {
      at = (int)i;
      break;
    }
  }
  assert_int_equal(textout_flush(o, got), 0);
  textout_free(o);
  return at;
}

static void test_textout(void **state) {
  (void)state;
  struct loaded l;
  load(&l, "qwen2", "gpt2");
  const char *text = "hello world, stop here please: caf\xc3\xa9 \xf0\x9f\x98\x80 done";
  /* No stop: the text comes back whole, valid UTF-8 at every step. */
  struct buf got;
  buf_init(&got, 0);
  assert_int_equal(run_textout(l.t, text, NULL, &got), -1);
  assert_int_equal(got.len, strlen(text));
  assert_memory_equal(buf_ptr(&got), text, got.len);
  /* Every stop string cut from the text, across token boundaries or not: the output is the
   * text before its first occurrence, and nothing of it leaks. */
  size_t tl = strlen(text);
  for (size_t a = 0; a < tl; a++)
    for (size_t len = 1; len <= 6 && a + len <= tl; len++) {
      char stop[8];
      memcpy(stop, text + a, len);
      stop[len] = 0;
      const char *first = strstr(text, stop);
      buf_reset(&got);
      int at = run_textout(l.t, text, stop, &got);
      assert_true(at >= 0);
      size_t want = (size_t)(first - text);
      /* The prefix is cut at the stop; invalid UTF-8 from a stop inside a character shows as U+FFFD. */
      if (valid_utf8((const uint8_t *)text, want)) {
        assert_int_equal(got.len, want);
        assert_memory_equal(buf_ptr(&got) ? (const char *)buf_ptr(&got) : "", text, want);
      }
    }
  /* A stop that never appears changes nothing. */
  buf_reset(&got);
  assert_int_equal(run_textout(l.t, text, "zzz", &got), -1);
  assert_int_equal(got.len, tl);
  /* Control tokens give no text; bad stop lists are refused. */
  int32_t im_end = tok_find(l.t, "<|im_end|>", 10);
  assert_true(im_end >= 0);
  struct textout *o = NULL;
  struct err e = {0};
  assert_int_equal(textout_new(l.t, NULL, NULL, 0, &o, &e), 0);
  buf_reset(&got);
  assert_int_equal(textout_feed(o, im_end, &got), 0);
  assert_int_equal(got.len, 0);
  textout_free(o);
  const char *empty = "";
  size_t zero = 0;
  assert_int_equal(textout_new(l.t, &empty, &zero, 1, &o, &e), ERR_INVALID);
  const char *five[5] = {"a", "b", "c", "d", "e"};
  size_t ones[5] = {1, 1, 1, 1, 1};
  assert_int_equal(textout_new(l.t, five, ones, 5, &o, &e), ERR_LIMIT);
  /* Bytes that never form a character come out as U+FFFD at the end. */
  int32_t ids[8];
  size_t n = 0;
  assert_int_equal(tok_encode_ex(l.t, "\xf0\x9f", 2, 0, ids, 8, &n, &e), 0);
  assert_int_equal(textout_new(l.t, NULL, NULL, 0, &o, &e), 0);
  buf_reset(&got);
  for (size_t i = 0; i < n; i++) assert_int_equal(textout_feed(o, ids[i], &got), 0);
  assert_int_equal(got.len, 0);
  assert_int_equal(textout_flush(o, &got), 0);
  assert_true(got.len >= 3 && valid_utf8(buf_ptr(&got), got.len));
  assert_memory_equal(buf_ptr(&got), "\xef\xbf\xbd", 3);
  textout_free(o);
  buf_free(&got);
  unload(&l);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_detect),
      cmocka_unit_test(test_render),
      cmocka_unit_test(test_textout),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
