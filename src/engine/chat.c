/* chat: renders chat messages into a prompt with the ChatML (Qwen) or Llama-3 template. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/chat.h"

#include <string.h>

static const char qwen25_system[] = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant.";

static int str_has(struct gguf_str s, const char *needle) {
  size_t n = strlen(needle);
  if (n > s.len) return 0;
  for (size_t i = 0; i + n <= s.len; i++)
    if (memcmp(s.p + i, needle, n) == 0) return 1;
  return 0;
}

static int vocab_has(const struct gguf *g, const char *text) {
  const struct gguf_kv *toks = NULL;
  if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &toks, NULL) != 0) return 0;
  for (uint64_t i = 0; i < toks->arr_n; i++)
    if (gguf_str_eq(gguf_arr_str(toks, i), text)) return 1;
  return 0;
}

int chat_template_detect(const struct gguf *g, struct chat_template *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  struct gguf_str arch = {"", 0}, tmpl = {"", 0};
  if (gguf_get_str(g, "general.architecture", &arch, NULL) != 0) arch.len = 0;
  int has_tmpl = gguf_get_str(g, "tokenizer.chat_template", &tmpl, NULL) == 0;
  int is_qwen3 = gguf_str_eq(arch, "qwen3");
  if (has_tmpl && str_has(tmpl, "<|im_start|>")) {
    out->format = CHAT_FORMAT_CHATML;
    /* Qwen3's template switches thinking with enable_thinking; a qwen3 model whose template
     * was simplified keeps the switch. */
    out->thinking = str_has(tmpl, "enable_thinking") || is_qwen3;
    if (str_has(tmpl, qwen25_system)) out->default_system = qwen25_system;
    return 0;
  }
  if (has_tmpl && str_has(tmpl, "<|start_header_id|>")) {
    out->format = CHAT_FORMAT_LLAMA3;
    /* Llama 3.1+ always opens with a system turn carrying two dates (the template's default
     * date_string, which servers keep unless a caller overrides it). */
    out->llama31_dates = str_has(tmpl, "Cutting Knowledge Date");
    return 0;
  }
  /* No template, or one of another family: fall back on the vocabulary's markers. */
  if (vocab_has(g, "<|im_start|>") && vocab_has(g, "<|im_end|>")) {
    out->format = CHAT_FORMAT_CHATML;
    out->thinking = is_qwen3;
    return 0;
  }
  if (vocab_has(g, "<|start_header_id|>") && vocab_has(g, "<|eot_id|>")) {
    out->format = CHAT_FORMAT_LLAMA3;
    return 0;
  }
  return err_set(e, ERR_NOTFOUND,
                 "the model has no chat template the engine knows (ChatML or Llama-3 markers in "
                 "tokenizer.chat_template or the vocabulary); use /v1/completions");
}

const char *chat_format_name(enum chat_format f) {
  return f == CHAT_FORMAT_CHATML ? "chatml" : f == CHAT_FORMAT_LLAMA3 ? "llama3" : "unknown";
}

static int role_ok(const struct chat_msg *m) {
  static const char *const roles[] = {"system", "user", "assistant", "tool"};
  for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++)
    if (m->role_len == strlen(roles[i]) && memcmp(m->role, roles[i], m->role_len) == 0) return 1;
  return 0;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v'; }

int chat_render(const struct chat_template *t, const struct chat_msg *msgs, size_t n, int enable_thinking,
                struct buf *out, struct err *e) {
  if (n == 0) return err_set(e, ERR_INVALID, "messages is empty");
  for (size_t i = 0; i < n; i++)
    if (!role_ok(&msgs[i]))
      return err_set(e, ERR_INVALID, "messages[%zu].role must be system, user, assistant or tool", i);
  int rc = 0;
#define PUT(p, len) \
  do { \
    if (!rc) rc = buf_append(out, (p), (len)); \
  } while (0)
#define PUTS(s) PUT((s), strlen(s))
  if (t->format == CHAT_FORMAT_CHATML) {
    if (t->default_system && !(msgs[0].role_len == 6 && memcmp(msgs[0].role, "system", 6) == 0)) {
      PUTS("<|im_start|>system\n");
      PUTS(t->default_system);
      PUTS("<|im_end|>\n");
    }
    for (size_t i = 0; i < n; i++) {
      PUTS("<|im_start|>");
      PUT(msgs[i].role, msgs[i].role_len);
      PUTS("\n");
      PUT(msgs[i].content, msgs[i].content_len);
      PUTS("<|im_end|>\n");
    }
    PUTS("<|im_start|>assistant\n");
    if (t->thinking && enable_thinking == 0) PUTS("<think>\n\n</think>\n\n");
  } else if (t->format == CHAT_FORMAT_LLAMA3) {
    PUTS("<|begin_of_text|>");
    size_t first = 0;
    if (t->llama31_dates) {
      const char *c = "";
      size_t len = 0;
      if (msgs[0].role_len == 6 && memcmp(msgs[0].role, "system", 6) == 0) {
        c = msgs[0].content;
        len = msgs[0].content_len;
        while (len && is_space(c[0])) c++, len--;
        while (len && is_space(c[len - 1])) len--;
        first = 1;
      }
      PUTS("<|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n"
           "Today Date: 26 Jul 2024\n\n");
      PUT(c, len);
      PUTS("<|eot_id|>");
    }
    for (size_t i = first; i < n; i++) {
      /* The template trims each message's content. */
      const char *c = msgs[i].content;
      size_t len = msgs[i].content_len;
      while (len && is_space(c[0])) c++, len--;
      while (len && is_space(c[len - 1])) len--;
      PUTS("<|start_header_id|>");
      PUT(msgs[i].role, msgs[i].role_len);
      PUTS("<|end_header_id|>\n\n");
      PUT(c, len);
      PUTS("<|eot_id|>");
    }
    PUTS("<|start_header_id|>assistant<|end_header_id|>\n\n");
  } else {
    return err_set(e, ERR_INVALID, "unknown chat format");
  }
#undef PUT
#undef PUTS
  if (rc) return err_set(e, rc, "the rendered prompt is too large");
  return 0;
}
