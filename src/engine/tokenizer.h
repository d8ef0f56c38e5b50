/* tokenizer: byte-level BPE (gpt2) and SentencePiece-style (llama) tokenizers built from GGUF metadata. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_TOKENIZER_H
#define COCOON_ENGINE_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "engine/gguf.h"

/* Hard limits. */
#define TOK_MAX_VOCAB (1u << 22)       /* tokens */
#define TOK_MAX_TOKEN_BYTES 1024u      /* bytes of one token's text */
#define TOK_MAX_INPUT (64u << 20)      /* bytes of text one tok_encode call accepts */

enum tok_kind {
  TOK_KIND_BPE = 1, /* tokenizer.ggml.model = "gpt2" */
  TOK_KIND_SPM = 2, /* tokenizer.ggml.model = "llama" */
};

/* Pre-tokenizers of the byte-level BPE (tokenizer.ggml.pre). */
enum tok_pre {
  TOK_PRE_NONE = 0,  /* SPM */
  TOK_PRE_GPT2 = 1,  /* "gpt-2", "default" or absent */
  TOK_PRE_LLAMA3 = 2, /* "llama-bpe", "llama3", "llama-v3": digits in runs of up to 3, ignore_merges */
  TOK_PRE_QWEN2 = 3, /* "qwen2", "deepseek-r1-qwen": single digits */
};

/* Token types of tokenizer.ggml.token_type. */
enum tok_type {
  TOK_TYPE_NORMAL = 1,
  TOK_TYPE_UNKNOWN = 2,
  TOK_TYPE_CONTROL = 3,
  TOK_TYPE_USER_DEFINED = 4,
  TOK_TYPE_UNUSED = 5,
  TOK_TYPE_BYTE = 6,
};

/* tok_encode_ex flags. */
#define TOK_ENC_ADD_BOS 1u       /* prepend the BOS token (when the vocabulary has one) */
#define TOK_ENC_PARSE_SPECIAL 2u /* control and unknown tokens' texts become those tokens */

struct tok;

/* Builds a tokenizer from g's tokenizer.* metadata. *out does not borrow g (texts are copied);
 * caller frees with tok_free. */
CC_NODISCARD int tok_load(const struct gguf *g, struct tok **out, struct err *e);
void tok_free(struct tok *t);

/* Tokenizes text[0..len) with special-token parsing on (what a rendered chat template needs;
 * llama.cpp's parse_special = true), prepending BOS when add_bos. Writes at most cap ids;
 * *n gets the full count, and ERR_LIMIT is returned when it exceeds cap. Any bytes are
 * accepted: invalid UTF-8 is tokenized byte by byte. */
CC_NODISCARD int tok_encode(const struct tok *t, const char *text, size_t len, int add_bos, int32_t *ids,
                            size_t cap, size_t *n, struct err *e);
/* Same with TOK_ENC_* flags. Without TOK_ENC_PARSE_SPECIAL, user-defined tokens are still
 * matched verbatim (as llama.cpp does); control tokens' texts are tokenized as plain text. */
CC_NODISCARD int tok_encode_ex(const struct tok *t, const char *text, size_t len, unsigned flags, int32_t *ids,
                               size_t cap, size_t *n, struct err *e);

/* The bytes token id stands for: byte-level BPE tokens decoded from GPT-2's alphabet, SPM
 * pieces with U+2581 as a space and <0xXX> as the byte, control/user-defined tokens as their
 * text. Copies min(len, cap) bytes and returns len; ERR_INVALID for an id out of range. */
int tok_decode_piece(const struct tok *t, int32_t id, char *buf, size_t cap);
/* Concatenates the pieces of ids[0..n). Control tokens are rendered only when render_special;
 * for SPM the space the encoder prefixes (at the start and after each special token) is
 * removed, so tok_detokenize(tok_encode(x)) == x for every input. *len gets the full length;
 * ERR_LIMIT when it exceeds cap (buf then holds a prefix). */
CC_NODISCARD int tok_detokenize(const struct tok *t, const int32_t *ids, size_t n, int render_special, char *buf,
                                size_t cap, size_t *len, struct err *e);

enum tok_kind tok_get_kind(const struct tok *t);
enum tok_pre tok_get_pre(const struct tok *t);
uint32_t tok_vocab_size(const struct tok *t);
int32_t tok_bos(const struct tok *t); /* -1 when absent */
int32_t tok_eos(const struct tok *t); /* -1 when absent */
int32_t tok_eot(const struct tok *t); /* end of turn (<|im_end|>, <|eot_id|>, ...); -1 when absent */
int tok_add_bos_default(const struct tok *t); /* tokenizer.ggml.add_bos_token (or the type's default) */
int tok_is_special(const struct tok *t, int32_t id); /* control, user-defined or unknown */
int tok_is_eog(const struct tok *t, int32_t id);     /* ends generation: eos, eot, and similar */
int tok_type_of(const struct tok *t, int32_t id);    /* enum tok_type, 0 when out of range */
/* The token's text as stored in the file (not decoded); NULL when out of range. */
const char *tok_text(const struct tok *t, int32_t id, size_t *len);
/* The id of the token whose stored text is text[0..len), or -1. */
int32_t tok_find(const struct tok *t, const char *text, size_t len);

#endif
