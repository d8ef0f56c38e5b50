/* chat: renders chat messages into a prompt with the ChatML (Qwen) or Llama-3 template. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_CHAT_H
#define COCOON_ENGINE_CHAT_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "engine/gguf.h"

/* The engine does not run Jinja: it recognises the template families it serves from the
 * model's metadata and renders them in C, the way those templates render plain text turns. */
enum chat_format {
  CHAT_FORMAT_CHATML = 1, /* <|im_start|>role\n...<|im_end|>\n (Qwen 2, 2.5, 3) */
  CHAT_FORMAT_LLAMA3 = 2, /* <|start_header_id|>role<|end_header_id|>\n\n...<|eot_id|> */
};

struct chat_template {
  enum chat_format format;
  int thinking;                /* ChatML with Qwen3's <think> switch (enable_thinking) */
  const char *default_system;  /* system turn added when the request has none, or NULL */
  int llama31_dates;           /* Llama-3.1's system header with its knowledge and "today" dates */
};

/* Picks the family from tokenizer.chat_template (its marker tokens), else from the vocabulary's
 * special tokens and the architecture. ERR_NOTFOUND, naming what was looked at, when the model
 * has neither family's markers. */
CC_NODISCARD int chat_template_detect(const struct gguf *g, struct chat_template *out, struct err *e);

struct chat_msg {
  const char *role; /* "system", "user", "assistant", "tool" */
  size_t role_len;
  const char *content;
  size_t content_len;
};

/* Appends the rendered conversation and the assistant's generation prompt to out.
 * enable_thinking: 1, 0, or -1 for the template's default (thinking on for Qwen3); with 0 a
 * Qwen3 prompt ends in an empty <think></think> block, as Qwen3's own template does.
 * Roles outside the four above and an empty conversation are refused (ERR_INVALID). */
CC_NODISCARD int chat_render(const struct chat_template *t, const struct chat_msg *msgs, size_t n,
                             int enable_thinking, struct buf *out, struct err *e);

const char *chat_format_name(enum chat_format f);

#endif
