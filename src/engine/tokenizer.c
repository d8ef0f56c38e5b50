/* tokenizer: loads a GGUF vocabulary, splits out special tokens, dispatches to BPE or SPM, decodes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/tokenizer.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/tok_internal.h"
#include "engine/tok_unicode.h"

/* ---- hash map ---- */

static uint64_t hash_bytes(const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h ^ (h >> 29);
}

int tok_map_init(struct tok_map *m, size_t cap) {
  memset(m, 0, sizeof(*m));
  if (cap == 0) cap = 1;
  m->nslots = 16;
  while (m->nslots < cap * 2) m->nslots *= 2;
  m->cap = cap;
  m->slots = calloc(m->nslots, sizeof(*m->slots));
  m->koff = calloc(cap, sizeof(*m->koff));
  m->klen = calloc(cap, sizeof(*m->klen));
  m->val = calloc(cap, sizeof(*m->val));
  m->keys_cap = cap * 8;
  m->keys = malloc(m->keys_cap);
  if (!m->slots || !m->koff || !m->klen || !m->val || !m->keys) {
    tok_map_free(m);
    return ERR_NOMEM;
  }
  return 0;
}

void tok_map_free(struct tok_map *m) {
  free(m->keys);
  free(m->koff);
  free(m->klen);
  free(m->val);
  free(m->slots);
  memset(m, 0, sizeof(*m));
}

static size_t map_find(const struct tok_map *m, const void *key, size_t len, int *found) {
  size_t mask = m->nslots - 1, h = (size_t)hash_bytes(key, len) & mask;
  for (; m->slots[h]; h = (h + 1) & mask) {
    size_t i = m->slots[h] - 1;
    if (m->klen[i] == len && memcmp(m->keys + m->koff[i], key, len) == 0) {
      *found = 1;
      return h;
    }
  }
  *found = 0;
  return h;
}

int tok_map_put(struct tok_map *m, const void *key, size_t len, int32_t val) {
  int found;
  size_t h = map_find(m, key, len, &found);
  if (found) {
    m->val[m->slots[h] - 1] = val;
    return 0;
  }
  if (m->n >= m->cap || len > UINT32_MAX) return ERR_LIMIT;
  size_t need;
  if (__builtin_add_overflow(m->keys_used, len, &need)) return ERR_LIMIT;
  if (need > m->keys_cap) {
    size_t nc;
    if (__builtin_mul_overflow(need, (size_t)2, &nc)) return ERR_LIMIT;
    uint8_t *nk = realloc(m->keys, nc);
    if (!nk) return ERR_NOMEM;
    m->keys = nk;
    m->keys_cap = nc;
  }
  if (len) memcpy(m->keys + m->keys_used, key, len);
  m->koff[m->n] = m->keys_used;
  m->klen[m->n] = (uint32_t)len;
  m->val[m->n] = val;
  m->keys_used = need;
  m->slots[h] = (uint32_t)(++m->n);
  return 0;
}

int32_t tok_map_get(const struct tok_map *m, const void *key, size_t len) {
  if (!m->slots) return -1;
  int found;
  size_t h = map_find(m, key, len, &found);
  return found ? m->val[m->slots[h] - 1] : -1;
}

/* ---- GPT-2 byte alphabet ---- */

static int gpt2_printable(unsigned b) { return (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE; }

uint32_t tok_gpt2_cp(uint8_t b) {
  if (gpt2_printable(b)) return b;
  uint32_t k = 0;
  for (unsigned x = 0; x < b; x++) k += !gpt2_printable(x);
  return 256 + k;
}

int tok_gpt2_byte(uint32_t cp) {
  if (cp < 256) return gpt2_printable(cp) ? (int)cp : -1;
  if (cp >= 256 + 68) return -1;
  uint32_t k = cp - 256;
  for (unsigned x = 0; x < 256; x++)
    if (!gpt2_printable(x) && k-- == 0) return (int)x;
  return -1;
}

/* Decodes a text written in GPT-2's alphabet into out (cap >= n); -1 when a character is
 * outside the alphabet or the text is not UTF-8. */
static long gpt2_decode(const uint8_t *p, size_t n, uint8_t *out, const int16_t *rev) {
  size_t o = 0;
  for (size_t i = 0; i < n;) {
    size_t k;
    uint32_t cp = utf8_next(p + i, n - i, &k);
    if (cp == UTF8_INVALID || cp >= 256 + 68 || rev[cp] < 0) return -1;
    out[o++] = (uint8_t)rev[cp];
    i += k;
  }
  return (long)o;
}

/* ---- loading ---- */

/* llama.cpp recognises some tokens by their text and makes them control tokens; the same lists
 * are kept here so special-token parsing agrees. End-of-generation texts: */
static const char *const eog_names[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>",
    "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>",
    "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<\xef\xbd\x9c" "end\xe2\x96\x81of\xe2\x96\x81sentence\xef\xbd\x9c>",
    "[e~["};
/* Candidates for the end-of-turn id when the file names none, most specific first. */
static const char *const eot_names[] = {"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
                                        "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<end_of_utterance>"};
/* Fill-in-the-middle tokens, looked for by text when their id key is absent. */
struct fim_kind {
  const char *key, *old_key;
  const char *names[9];
};
static const struct fim_kind fim_kinds[] = {
    {"tokenizer.ggml.fim_pre_token_id", "tokenizer.ggml.prefix_token_id",
     {"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "begin\xef\xbd\x9c>", "<PRE>",
      "\xe2\x96\x81<PRE>", "<|code_prefix|>", "<|prefix|>", NULL}},
    {"tokenizer.ggml.fim_suf_token_id", "tokenizer.ggml.suffix_token_id",
     {"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "hole\xef\xbd\x9c>", "<SUF>",
      "\xe2\x96\x81<SUF>", "<|code_suffix|>", "<|suffix|>", NULL}},
    {"tokenizer.ggml.fim_mid_token_id", "tokenizer.ggml.middle_token_id",
     {"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<\xef\xbd\x9c" "fim\xe2\x96\x81" "end\xef\xbd\x9c>", "<MID>",
      "\xe2\x96\x81<MID>", "<|code_middle|>", "<|middle|>", NULL}},
    {"tokenizer.ggml.fim_pad_token_id", NULL, {"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]", NULL}},
    {"tokenizer.ggml.fim_rep_token_id", NULL,
     {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>", NULL}},
    {"tokenizer.ggml.fim_sep_token_id", NULL, {"<|file_sep|>", NULL}},
};
/* Rendered as text by llama.cpp whatever their type (gpt-oss): user-defined. */
static const char *const user_names[] = {"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"};

static int32_t find_z(const struct tok *t, const char *z) { return tok_map_get(&t->by_text, z, strlen(z)); }

/* Applies the text-based attribute rules above. */
static void mark_by_name(struct tok *t, const struct gguf *g) {
  for (size_t k = 0; k < sizeof(fim_kinds) / sizeof(fim_kinds[0]); k++) {
    const struct fim_kind *f = &fim_kinds[k];
    uint32_t v;
    if ((gguf_get_u32(g, f->key, &v, NULL) == 0 && v < t->n_vocab) ||
        (f->old_key && gguf_get_u32(g, f->old_key, &v, NULL) == 0 && v < t->n_vocab))
      continue;
    for (size_t j = 0; f->names[j]; j++) {
      int32_t id = find_z(t, f->names[j]);
      if (id >= 0) t->attr[id] |= TOK_ATTR_CONTROL;
    }
  }
  for (size_t k = 0; k < sizeof(eog_names) / sizeof(eog_names[0]); k++) {
    int32_t id = find_z(t, eog_names[k]);
    if (id >= 0) t->attr[id] |= TOK_ATTR_CONTROL | TOK_ATTR_EOG;
  }
  for (size_t k = 0; k < sizeof(user_names) / sizeof(user_names[0]); k++) {
    int32_t id = find_z(t, user_names[k]);
    if (id >= 0) t->attr[id] = (uint8_t)((t->attr[id] & TOK_ATTR_EOG) | TOK_ATTR_USER);
  }
  /* o200k_harmony / solar-open: <|end|> is not an end of generation there. */
  int32_t end = find_z(t, "<|end|>");
  if (end >= 0 && ((find_z(t, "<|return|>") >= 0 && find_z(t, "<|call|>") >= 0) ||
                   (find_z(t, "<|calls|>") >= 0 && find_z(t, "<|flush|>") >= 0)))
    t->attr[end] = TOK_ATTR_USER;
  /* gemma4 / paddleocr: </s> is an ordinary token next to <|tool_response>. */
  int32_t s = find_z(t, "</s>");
  if (s >= 0 && find_z(t, "<|tool_response>") >= 0) t->attr[s] = 0;
}

void tok_free(struct tok *t) {
  if (!t) return;
  free(t->text);
  free(t->text_off);
  free(t->text_len);
  free(t->piece);
  free(t->piece_off);
  free(t->piece_len);
  free(t->type);
  free(t->attr);
  free(t->score);
  free(t->specials);
  tok_map_free(&t->by_text);
  tok_map_free(&t->by_bytes);
  tok_map_free(&t->merges);
  free(t);
}

static int get_id(const struct gguf *g, const char *key, uint32_t n, int32_t *id, struct err *e) {
  uint32_t v;
  int rc = gguf_get_u32(g, key, &v, e);
  if (rc == ERR_NOTFOUND) return 0;
  if (rc) return rc;
  if (v < n) *id = (int32_t)v; /* out of range: ignored, as llama.cpp does */
  return 0;
}

static int get_flag(const struct gguf *g, const char *key, int *flag, struct err *e) {
  int v, rc = gguf_get_bool(g, key, &v, e);
  if (rc == ERR_NOTFOUND) return 0;
  if (rc) return rc;
  *flag = v;
  return 0;
}

struct special_ent {
  uint32_t len;
  int32_t id;
};

static int cmp_special(const void *a, const void *b) {
  const struct special_ent *x = a, *y = b;
  if (x->len != y->len) return x->len > y->len ? -1 : 1;
  return x->id < y->id ? -1 : x->id > y->id;
}

/* Stores texts, types and scores; builds the text map. */
static int load_vocab(struct tok *t, const struct gguf *g, struct err *e) {
  const struct gguf_kv *toks, *types = NULL, *scores = NULL;
  int rc = gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &toks, e);
  if (rc == ERR_NOTFOUND) return err_set(e, ERR_PARSE, "tokenizer.ggml.tokens is missing");
  if (rc) return rc;
  if (toks->arr_n == 0 || toks->arr_n > TOK_MAX_VOCAB)
    return err_set(e, ERR_LIMIT, "tokenizer.ggml.tokens: %" PRIu64 " tokens (1..%u allowed)", toks->arr_n,
                   TOK_MAX_VOCAB);
  uint32_t n = (uint32_t)toks->arr_n;
  t->n_vocab = n;
  rc = gguf_get_arr(g, "tokenizer.ggml.token_type", GGUF_I64, &types, e);
  if (rc && rc != ERR_NOTFOUND) return rc;
  if (types && types->arr_n != n)
    return err_set(e, ERR_PARSE, "tokenizer.ggml.token_type has %" PRIu64 " entries for %" PRIu32 " tokens",
                   types->arr_n, n);
  rc = gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_F32, &scores, e);
  if (rc == ERR_PARSE) rc = gguf_get_arr(g, "tokenizer.ggml.scores", GGUF_F64, &scores, e);
  if (rc && rc != ERR_NOTFOUND) return rc;
  if (scores && scores->arr_n != n)
    return err_set(e, ERR_PARSE, "tokenizer.ggml.scores has %" PRIu64 " entries for %" PRIu32 " tokens",
                   scores->arr_n, n);
  size_t total = 0;
  for (uint32_t i = 0; i < n; i++) {
    struct gguf_str s = gguf_arr_str(toks, i);
    if (s.len > TOK_MAX_TOKEN_BYTES)
      return err_set(e, ERR_LIMIT, "token %" PRIu32 " is %" PRIu64 " bytes long (at most %u)", i, s.len,
                     TOK_MAX_TOKEN_BYTES);
    total += (size_t)s.len + 1;
  }
  t->text = malloc(total);
  t->text_off = calloc(n, sizeof(*t->text_off));
  t->text_len = calloc(n, sizeof(*t->text_len));
  t->type = calloc(n, 1);
  t->attr = calloc(n, 1);
  t->score = calloc(n, sizeof(*t->score));
  if (!t->text || !t->text_off || !t->text_len || !t->type || !t->attr || !t->score ||
      tok_map_init(&t->by_text, n))
    return err_set(e, ERR_NOMEM, "out of memory");
  size_t off = 0;
  for (uint32_t i = 0; i < n; i++) {
    struct gguf_str s = gguf_arr_str(toks, i);
    memcpy(t->text + off, s.p, (size_t)s.len);
    t->text[off + s.len] = 0;
    t->text_off[i] = off;
    t->text_len[i] = (uint32_t)s.len;
    off += (size_t)s.len + 1;
    int64_t ty = types ? gguf_arr_int(types, i) : TOK_TYPE_NORMAL;
    t->type[i] = ty >= TOK_TYPE_NORMAL && ty <= TOK_TYPE_BYTE ? (uint8_t)ty : 0;
    switch (t->type[i]) {
    case TOK_TYPE_CONTROL: t->attr[i] = TOK_ATTR_CONTROL; break;
    case TOK_TYPE_USER_DEFINED: t->attr[i] = TOK_ATTR_USER; break;
    case TOK_TYPE_UNKNOWN: t->attr[i] = TOK_ATTR_UNKNOWN; break;
    case TOK_TYPE_BYTE: t->attr[i] = TOK_ATTR_BYTE; break;
    default: break;
    }
    t->score[i] = scores ? gguf_arr_f32(scores, i) : 0.0f;
    if (s.len == 0) continue; /* an empty token can never be matched */
    if (tok_map_get(&t->by_text, s.p, (size_t)s.len) >= 0)
      return err_set(e, ERR_PARSE, "token %" PRIu32 " duplicates an earlier token's text", i);
    if ((rc = tok_map_put(&t->by_text, s.p, (size_t)s.len, (int32_t)i)) != 0)
      return err_set(e, rc, "out of memory");
  }
  return 0;
}

/* Pieces: what each token decodes to. */
static int build_pieces(struct tok *t, const int16_t *rev, struct err *e) {
  size_t total = 0;
  for (uint32_t i = 0; i < t->n_vocab; i++) total += t->text_len[i] + 3u;
  t->piece = malloc(total ? total : 1);
  t->piece_off = calloc(t->n_vocab, sizeof(*t->piece_off));
  t->piece_len = calloc(t->n_vocab, sizeof(*t->piece_len));
  if (!t->piece || !t->piece_off || !t->piece_len) return err_set(e, ERR_NOMEM, "out of memory");
  size_t off = 0;
  for (uint32_t i = 0; i < t->n_vocab; i++) {
    const uint8_t *s = (const uint8_t *)t->text + t->text_off[i];
    size_t n = t->text_len[i], o = 0;
    uint8_t *d = t->piece + off;
    if (t->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER | TOK_ATTR_UNKNOWN)) {
      memcpy(d, s, n); /* special tokens stand for their text */
      o = n;
    } else if (t->kind == TOK_KIND_BPE) {
      long k = gpt2_decode(s, n, d, rev);
      if (k < 0) {
        memcpy(d, s, n); /* not in the alphabet: the text as it is */
        o = n;
      } else {
        o = (size_t)k;
      }
    } else if (t->type[i] == TOK_TYPE_BYTE && n == 6 && memcmp(s, "<0x", 3) == 0 && s[5] == '>') {
      unsigned v = 0;
      int ok = 1;
      for (int j = 3; j < 5; j++) {
        unsigned c = s[j];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else ok = 0;
      }
      if (ok) d[o++] = (uint8_t)v;
      else memcpy(d, s, n), o = n;
    } else {
      for (size_t j = 0; j < n;) { /* U+2581 stands for a space */
        if (j + 3 <= n && s[j] == 0xe2 && s[j + 1] == 0x96 && s[j + 2] == 0x81) {
          d[o++] = ' ';
          j += 3;
        } else {
          d[o++] = s[j++];
        }
      }
    }
    t->piece_off[i] = off;
    t->piece_len[i] = (uint32_t)o;
    off += o;
  }
  return 0;
}

static int load_merges(struct tok *t, const struct gguf *g, const int16_t *rev, struct err *e) {
  const struct gguf_kv *m;
  int rc = gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, &m, e);
  if (rc == ERR_NOTFOUND) return err_set(e, ERR_PARSE, "tokenizer.ggml.merges is missing (needed by gpt2)");
  if (rc) return rc;
  if ((rc = tok_map_init(&t->merges, m->arr_n ? (size_t)m->arr_n : 1)) != 0)
    return err_set(e, ERR_NOMEM, "out of memory");
  uint8_t key[4 + 2 * TOK_MAX_TOKEN_BYTES];
  for (uint64_t i = 0; i < m->arr_n; i++) {
    struct gguf_str s = gguf_arr_str(m, i);
    if (s.len > 2 * TOK_MAX_TOKEN_BYTES)
      return err_set(e, ERR_LIMIT, "merge %" PRIu64 " is %" PRIu64 " bytes long", i, s.len);
    /* "left right", split at the first space after the first byte (as llama.cpp does). */
    const uint8_t *p = (const uint8_t *)s.p;
    size_t sp = 0;
    for (size_t j = 1; j < s.len; j++)
      if (p[j] == ' ') {
        sp = j;
        break;
      }
    if (sp == 0) continue; /* llama.cpp keys such a line as ("", ""), which never matches */
    long l = gpt2_decode(p, sp, key + 4, rev);
    if (l < 0) continue; /* outside the alphabet: can never match a byte-level symbol */
    long r = gpt2_decode(p + sp + 1, (size_t)s.len - sp - 1, key + 4 + l, rev);
    if (r < 0) continue;
    uint32_t ll = (uint32_t)l;
    memcpy(key, &ll, 4);
    size_t klen = 4 + (size_t)l + (size_t)r;
    if (tok_map_get(&t->merges, key, klen) >= 0) continue; /* the first rank wins */
    if ((rc = tok_map_put(&t->merges, key, klen, (int32_t)i)) != 0) return err_set(e, rc, "out of memory");
  }
  return 0;
}

int tok_load(const struct gguf *g, struct tok **out, struct err *e) {
  *out = NULL;
  struct tok *t = calloc(1, sizeof(*t));
  if (!t) return err_set(e, ERR_NOMEM, "out of memory");
  int16_t rev[256 + 68];
  for (size_t i = 0; i < sizeof(rev) / sizeof(rev[0]); i++) rev[i] = (int16_t)tok_gpt2_byte((uint32_t)i);
  struct gguf_str model, pre;
  int rc = gguf_get_str(g, "tokenizer.ggml.model", &model, e);
  if (rc == ERR_NOTFOUND) rc = err_set(e, ERR_PARSE, "tokenizer.ggml.model is missing");
  if (rc) goto out;
  if (gguf_str_eq(model, "gpt2")) {
    t->kind = TOK_KIND_BPE;
  } else if (gguf_str_eq(model, "llama")) {
    t->kind = TOK_KIND_SPM;
  } else {
    rc = err_set(e, ERR_INVALID, "tokenizer.ggml.model '%.*s' is not supported (gpt2, llama)",
                 (int)(model.len > 64 ? 64 : model.len), model.p);
    goto out;
  }
  t->bos = t->eos = t->eot = t->unk = -1;
  if (t->kind == TOK_KIND_BPE) {
    t->pre = TOK_PRE_GPT2;
    rc = gguf_get_str(g, "tokenizer.ggml.pre", &pre, e);
    if (rc == 0) {
      if (gguf_str_eq(pre, "llama-bpe") || gguf_str_eq(pre, "llama3") || gguf_str_eq(pre, "llama-v3")) {
        t->pre = TOK_PRE_LLAMA3;
        t->ignore_merges = 1;
        t->add_bos = 1;
      } else if (gguf_str_eq(pre, "qwen2") || gguf_str_eq(pre, "deepseek-r1-qwen")) {
        t->pre = TOK_PRE_QWEN2;
      } else if (!gguf_str_eq(pre, "gpt-2") && !gguf_str_eq(pre, "default")) {
        rc = err_set(e, ERR_INVALID, "tokenizer.ggml.pre '%.*s' is not supported (llama-bpe, qwen2, gpt-2)",
                     (int)(pre.len > 64 ? 64 : pre.len), pre.p);
        goto out;
      }
    } else if (rc != ERR_NOTFOUND) {
      goto out;
    }
  } else {
    t->add_bos = 1;
    t->add_space_prefix = 1;
  }
  if ((rc = load_vocab(t, g, e)) != 0) goto out;
  if (t->kind == TOK_KIND_SPM) {
    t->unk = 0 < t->n_vocab ? 0 : -1;
    t->bos = 1 < t->n_vocab ? 1 : -1;
    t->eos = 2 < t->n_vocab ? 2 : -1;
  }
  if ((rc = get_id(g, "tokenizer.ggml.bos_token_id", t->n_vocab, &t->bos, e)) ||
      (rc = get_id(g, "tokenizer.ggml.eos_token_id", t->n_vocab, &t->eos, e)) ||
      (rc = get_id(g, "tokenizer.ggml.eot_token_id", t->n_vocab, &t->eot, e)) ||
      (rc = get_id(g, "tokenizer.ggml.unknown_token_id", t->n_vocab, &t->unk, e)) ||
      (rc = get_flag(g, "tokenizer.ggml.add_bos_token", &t->add_bos, e)) ||
      (rc = get_flag(g, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix, e)))
    goto out;
  mark_by_name(t, g);
  for (size_t k = 0; t->eot < 0 && k < sizeof(eot_names) / sizeof(eot_names[0]); k++) t->eot = find_z(t, eot_names[k]);
  if (t->eos >= 0) t->attr[t->eos] |= TOK_ATTR_EOG;
  if (t->eot >= 0) t->attr[t->eot] |= TOK_ATTR_EOG;
  if (t->kind == TOK_KIND_BPE && (rc = load_merges(t, g, rev, e)) != 0) goto out;
  if ((rc = build_pieces(t, rev, e)) != 0) goto out;
  if (t->kind == TOK_KIND_BPE) {
    if (tok_map_init(&t->by_bytes, t->n_vocab)) {
      rc = err_set(e, ERR_NOMEM, "out of memory");
      goto out;
    }
    uint8_t buf[TOK_MAX_TOKEN_BYTES];
    for (uint32_t i = 0; i < t->n_vocab; i++) {
      long k = gpt2_decode((const uint8_t *)t->text + t->text_off[i], t->text_len[i], buf, rev);
      if (k <= 0) continue;
      if ((rc = tok_map_put(&t->by_bytes, buf, (size_t)k, (int32_t)i)) != 0) {
        rc = err_set(e, rc, "out of memory");
        goto out;
      }
    }
  }
  for (unsigned b = 0; b < 256; b++) {
    char name[8];
    snprintf(name, sizeof(name), "<0x%02X>", b);
    t->byte_tok[b] = t->kind == TOK_KIND_SPM ? tok_map_get(&t->by_text, name, 6) : -1;
    if (t->kind == TOK_KIND_SPM && t->byte_tok[b] < 0) {
      uint8_t ch = (uint8_t)b;
      t->byte_tok[b] = tok_map_get(&t->by_text, &ch, 1);
    }
  }
  /* Special tokens, matched in the text before anything else: longest first. */
  struct special_ent *sp = calloc(t->n_vocab, sizeof(*sp));
  t->specials = calloc(t->n_vocab, sizeof(*t->specials));
  if (!sp || !t->specials) {
    free(sp);
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  for (uint32_t i = 0; i < t->n_vocab; i++)
    if ((t->attr[i] & (TOK_ATTR_CONTROL | TOK_ATTR_USER | TOK_ATTR_UNKNOWN)) && t->text_len[i] > 0)
      sp[t->n_specials++] = (struct special_ent){t->text_len[i], (int32_t)i};
  qsort(sp, t->n_specials, sizeof(*sp), cmp_special);
  for (size_t i = 0; i < t->n_specials; i++) t->specials[i] = sp[i].id;
  free(sp);
  *out = t;
  t = NULL;
  rc = 0;
out:
  tok_free(t);
  return rc;
}

/* ---- encoding ---- */

struct frag {
  int32_t id; /* -1: raw text */
  size_t off, len;
};

int tok_encode_ex(const struct tok *t, const char *text, size_t len, unsigned flags, int32_t *ids, size_t cap,
                  size_t *n, struct err *e) {
  *n = 0;
  if (len > TOK_MAX_INPUT) return err_set(e, ERR_LIMIT, "text of %zu bytes (at most %u)", len, TOK_MAX_INPUT);
  if (len && !text) return err_set(e, ERR_INVALID, "no text");
  struct tok_out o = {ids, ids ? cap : 0, 0};
  const uint8_t *p = (const uint8_t *)text;
  if ((flags & TOK_ENC_ADD_BOS) && t->bos >= 0) tok_out_push(&o, t->bos);
  struct frag *a = NULL, *b = NULL;
  size_t na = 0;
  int rc = 0;
  if (len) {
    size_t maxf = 2 * len + 1;
    a = calloc(maxf, sizeof(*a));
    b = calloc(maxf, sizeof(*b));
    if (!a || !b) {
      rc = err_set(e, ERR_NOMEM, "out of memory");
      goto out;
    }
    a[na++] = (struct frag){-1, 0, len};
    for (size_t s = 0; s < t->n_specials; s++) {
      int32_t id = t->specials[s];
      if (!(flags & TOK_ENC_PARSE_SPECIAL) && (t->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_UNKNOWN))) continue;
      const char *st = t->text + t->text_off[id];
      size_t sl = t->text_len[id], nb = 0;
      for (size_t f = 0; f < na; f++) {
        if (a[f].id >= 0 || a[f].len < sl) {
          b[nb++] = a[f];
          continue;
        }
        size_t off = a[f].off, end = a[f].off + a[f].len;
        while (off < end) {
          const uint8_t *hit = memmem(p + off, end - off, st, sl);
          if (!hit) break;
          size_t at = (size_t)(hit - p);
          if (at > off) b[nb++] = (struct frag){-1, off, at - off};
          b[nb++] = (struct frag){id, at, sl};
          off = at + sl;
        }
        if (off < end) b[nb++] = (struct frag){-1, off, end - off};
      }
      struct frag *tmp = a;
      a = b;
      b = tmp;
      na = nb;
    }
  }
  int prev_special = 1;
  for (size_t f = 0; f < na; f++) {
    if (a[f].id >= 0) {
      tok_out_push(&o, a[f].id);
      prev_special = 1;
      continue;
    }
    if (t->kind == TOK_KIND_BPE) rc = tok_bpe_fragment(t, p + a[f].off, a[f].len, &o);
    else rc = tok_spm_fragment(t, p + a[f].off, a[f].len, t->add_space_prefix && prev_special, &o);
    if (rc) {
      rc = err_set(e, rc, "out of memory");
      goto out;
    }
    prev_special = 0;
  }
  *n = o.n;
  if (o.n > cap) rc = err_set(e, ERR_LIMIT, "%zu tokens do not fit in %zu", o.n, cap);
out:
  free(a);
  free(b);
  return rc;
}

int tok_encode(const struct tok *t, const char *text, size_t len, int add_bos, int32_t *ids, size_t cap, size_t *n,
               struct err *e) {
  return tok_encode_ex(t, text, len, TOK_ENC_PARSE_SPECIAL | (add_bos ? TOK_ENC_ADD_BOS : 0u), ids, cap, n, e);
}

/* ---- decoding ---- */

int tok_decode_piece(const struct tok *t, int32_t id, char *buf, size_t cap) {
  if (id < 0 || (uint32_t)id >= t->n_vocab) return ERR_INVALID;
  size_t n = t->piece_len[id];
  if (n > (size_t)INT32_MAX) return ERR_LIMIT;
  if (buf && cap) memcpy(buf, t->piece + t->piece_off[id], n < cap ? n : cap);
  return (int)n;
}

int tok_detokenize(const struct tok *t, const int32_t *ids, size_t n, int render_special, char *buf, size_t cap,
                   size_t *len, struct err *e) {
  size_t o = 0;
  int prev_special = 1;
  *len = 0;
  for (size_t i = 0; i < n; i++) {
    int32_t id = ids[i];
    if (id < 0 || (uint32_t)id >= t->n_vocab) return err_set(e, ERR_INVALID, "token id %" PRId32 " out of range", id);
    const uint8_t *pc = t->piece + t->piece_off[id];
    size_t pl = t->piece_len[id];
    if (t->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_USER | TOK_ATTR_UNKNOWN)) {
      if ((t->attr[id] & TOK_ATTR_CONTROL) && !render_special) pl = 0;
      prev_special = 1;
    } else {
      if (t->kind == TOK_KIND_SPM && t->add_space_prefix && prev_special && pl && pc[0] == ' ') pc++, pl--;
      prev_special = 0;
    }
    if (o < cap && buf) memcpy(buf + o, pc, pl < cap - o ? pl : cap - o);
    if (__builtin_add_overflow(o, pl, &o)) return err_set(e, ERR_LIMIT, "text too long");
  }
  *len = o;
  if (o > cap) return err_set(e, ERR_LIMIT, "%zu bytes do not fit in %zu", o, cap);
  return 0;
}

/* ---- accessors ---- */

enum tok_kind tok_get_kind(const struct tok *t) { return t->kind; }
enum tok_pre tok_get_pre(const struct tok *t) { return t->pre; }
uint32_t tok_vocab_size(const struct tok *t) { return t->n_vocab; }
int32_t tok_bos(const struct tok *t) { return t->bos; }
int32_t tok_eos(const struct tok *t) { return t->eos; }
int32_t tok_eot(const struct tok *t) { return t->eot; }
int tok_add_bos_default(const struct tok *t) { return t->add_bos; }

int tok_is_special(const struct tok *t, int32_t id) {
  return id >= 0 && (uint32_t)id < t->n_vocab && (t->attr[id] & (TOK_ATTR_CONTROL | TOK_ATTR_USER | TOK_ATTR_UNKNOWN));
}

int tok_is_eog(const struct tok *t, int32_t id) {
  return id >= 0 && (uint32_t)id < t->n_vocab && (t->attr[id] & TOK_ATTR_EOG);
}

int tok_type_of(const struct tok *t, int32_t id) {
  return id >= 0 && (uint32_t)id < t->n_vocab ? t->type[id] : 0;
}

const char *tok_text(const struct tok *t, int32_t id, size_t *len) {
  if (id < 0 || (uint32_t)id >= t->n_vocab) return NULL;
  if (len) *len = t->text_len[id];
  return t->text + t->text_off[id];
}

int32_t tok_find(const struct tok *t, const char *text, size_t len) { return tok_map_get(&t->by_text, text, len); }
