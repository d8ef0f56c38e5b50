/* tok_internal: the tokenizer's shared state and helpers (private to src/engine/tok*.c). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ENGINE_TOK_INTERNAL_H
#define COCOON_ENGINE_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "engine/tokenizer.h"

/* Byte-string → int32 hash map; keys are copied into the map's arena. */
struct tok_map {
  uint8_t *keys;
  size_t keys_used, keys_cap;
  size_t *koff;
  uint32_t *klen;
  int32_t *val;
  size_t n, cap;
  uint32_t *slots; /* entry index + 1; 0 = empty */
  size_t nslots;   /* power of two, >= 2 * cap */
};

int tok_map_init(struct tok_map *m, size_t cap);
void tok_map_free(struct tok_map *m);
/* Inserts or overwrites. ERR_NOMEM / ERR_LIMIT (more than cap entries). */
int tok_map_put(struct tok_map *m, const void *key, size_t len, int32_t val);
/* The value, or -1. */
int32_t tok_map_get(const struct tok_map *m, const void *key, size_t len);

/* Per-token attribute bits. */
#define TOK_ATTR_CONTROL 1u
#define TOK_ATTR_USER 2u
#define TOK_ATTR_UNKNOWN 4u
#define TOK_ATTR_BYTE 8u
#define TOK_ATTR_EOG 16u

struct tok {
  enum tok_kind kind;
  enum tok_pre pre;
  uint32_t n_vocab;
  /* Stored texts, NUL-terminated, and the decoded pieces (what each token stands for). */
  char *text;
  size_t *text_off;
  uint32_t *text_len;
  uint8_t *piece;
  size_t *piece_off;
  uint32_t *piece_len;
  uint8_t *type; /* enum tok_type */
  uint8_t *attr; /* TOK_ATTR_* */
  float *score;  /* SPM */
  struct tok_map by_text;  /* stored text → id */
  struct tok_map by_bytes; /* BPE: decoded bytes → id (tokens written in GPT-2's alphabet) */
  struct tok_map merges;   /* BPE: u32 left length ‖ left bytes ‖ right bytes → rank */
  int32_t *specials;       /* control/user-defined/unknown ids, longest text first */
  size_t n_specials;
  int32_t byte_tok[256];   /* SPM: <0xXX>; -1 when absent */
  int32_t bos, eos, eot, unk;
  int add_bos, add_space_prefix, ignore_merges;
};

/* Output cursor: ids beyond cap are counted, not written. */
struct tok_out {
  int32_t *ids;
  size_t cap, n;
};

static inline void tok_out_push(struct tok_out *o, int32_t id) {
  if (o->n < o->cap) o->ids[o->n] = id;
  o->n++;
}

/* GPT-2's byte-to-unicode table: the code point standing for byte b, and back (-1 when cp is
 * not in the alphabet). */
uint32_t tok_gpt2_cp(uint8_t b);
int tok_gpt2_byte(uint32_t cp);

/* Encodes one raw-text fragment (no special tokens inside). */
int tok_bpe_fragment(const struct tok *t, const uint8_t *p, size_t n, struct tok_out *o);
int tok_spm_fragment(const struct tok *t, const uint8_t *p, size_t n, int prefix_space, struct tok_out *o);

#endif
