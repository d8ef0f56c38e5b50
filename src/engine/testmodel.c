/* testmodel: deterministic synthetic GGUF models (llama, qwen2, qwen3) for tests and benchmarks. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/testmodel.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/gguf_write.h"
#include "engine/quant.h"

#define MAX_TOKEN_BYTES 16u     /* longest generated (raw) token */
#define CHUNK_FLOATS 65536u     /* weights generated per step */
#define MAX_TENSORS 512u

/* ---- deterministic randomness ---- */

static uint64_t splitmix(uint64_t *s) {
  uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* Uniform in [-1, 1). */
static float uni(uint64_t *s) { return (float)((double)(splitmix(s) >> 40) * 0x1p-23 - 1.0); }

static uint64_t fnv(const void *p, size_t n) {
  const uint8_t *b = p;
  uint64_t h = 0xcbf29ce484222325ull;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

/* ---- presets ---- */

struct preset {
  const char *name;
  const char *arch; /* NULL: any */
  uint32_t n_embd, n_layer, n_head, n_head_kv, head_dim, n_ff, n_ctx, n_vocab; /* n_vocab 0: small */
  uint32_t n_merges;
  float rope_base, rms_eps;
  int tied;
};

static const struct preset presets[] = {
    {"micro", NULL, 32, 1, 2, 1, 16, 64, 128, 0, 24, 10000.0f, 1e-5f, -1},
    {"tiny", NULL, 64, 2, 4, 2, 16, 128, 512, 0, 256, 10000.0f, 1e-5f, -1},
    {"qwen2.5-0.5b", "qwen2", 896, 24, 14, 2, 64, 4864, 32768, 151936, 0, 1000000.0f, 1e-6f, 1},
    {"qwen3-0.6b", "qwen3", 1024, 28, 16, 8, 128, 3072, 40960, 151936, 0, 1000000.0f, 1e-6f, 1},
};

static const char *const qwen_specials[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
static const char *const llama3_specials[] = {"<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>",
                                              "<|start_header_id|>", "<|end_header_id|>"};
#define SPM_CONTROL 3u   /* <unk> <s> </s> */
#define SPM_SINGLES 95u  /* U+2581 and printable ASCII 0x21..0x7e */

static const char chatml_template[] =
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
    "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";
static const char llama3_template[] =
    "{% set loop_messages = messages %}{% for message in loop_messages %}{% set content = "
    "'<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + "
    "'<|eot_id|>' %}{% if loop.index0 == 0 %}{% set content = bos_token + content %}{% endif %}{{ content }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}"
    "{% endif %}";

struct cfg {
  struct testmodel_shape s;
  int spm;            /* SentencePiece tokenizer */
  uint32_t n_special; /* gpt2: specials after the merges */
  uint32_t n_merges;  /* gpt2: merges; spm: merged pieces */
  const struct preset *p;
};

static int is_kquant(uint32_t t) { return t == QUANT_Q4_K || t == QUANT_Q6_K; }

static int resolve(const struct testmodel_opts *o, struct cfg *c, struct err *e) {
  memset(c, 0, sizeof(*c));
  const char *pn = o->preset ? o->preset : "tiny";
  for (size_t i = 0; i < sizeof(presets) / sizeof(presets[0]); i++)
    if (strcmp(presets[i].name, pn) == 0) c->p = &presets[i];
  if (!c->p)
    return err_set(e, ERR_INVALID, "unknown preset '%s' (micro, tiny, qwen2.5-0.5b, qwen3-0.6b)", pn);
  const char *arch = o->arch ? o->arch : c->p->arch ? c->p->arch : "qwen2";
  if (strcmp(arch, "llama") != 0 && strcmp(arch, "qwen2") != 0 && strcmp(arch, "qwen3") != 0)
    return err_set(e, ERR_INVALID, "unknown architecture '%s' (llama, qwen2, qwen3)", arch);
  if (c->p->arch && strcmp(arch, c->p->arch) != 0)
    return err_set(e, ERR_INVALID, "preset %s is a %s model, not %s", c->p->name, c->p->arch, arch);
  const struct quant_type_info *ti = quant_type_info(o->type);
  if (!ti || !ti->supported)
    return err_set(e, ERR_INVALID, "tensor type %s is not supported (f32, f16, bf16, q8_0, q4_0, q4_k, q6_k)",
                   ti ? ti->name : "?");
  const char *tok = o->tokenizer ? o->tokenizer : "gpt2";
  if (strcmp(tok, "gpt2") == 0) c->spm = 0;
  else if (strcmp(tok, "llama") == 0) c->spm = 1;
  else return err_set(e, ERR_INVALID, "unknown tokenizer '%s' (gpt2, llama)", tok);

  struct testmodel_shape *s = &c->s;
  s->arch = strcmp(arch, "llama") == 0 ? "llama" : strcmp(arch, "qwen2") == 0 ? "qwen2" : "qwen3";
  s->n_embd = c->p->n_embd;
  s->n_layer = c->p->n_layer;
  s->n_head = c->p->n_head;
  s->n_head_kv = c->p->n_head_kv;
  s->head_dim = c->p->head_dim;
  s->n_ff = c->p->n_ff;
  s->n_ctx = c->p->n_ctx;
  s->rope_base = c->p->rope_base;
  s->rms_eps = c->p->rms_eps;
  if (!c->p->n_vocab) {
    /* Small presets: qwen3 gets a head dim that differs from n_embd/n_head, as the real one;
     * K-quants need rows of 256. */
    if (strcmp(s->arch, "qwen3") == 0) s->head_dim *= 2;
    if (is_kquant(o->type)) {
      s->n_embd = 256;
      s->n_ff = 512;
      s->n_head = 4;
      s->n_head_kv = 2;
      s->head_dim = 64;
    }
    s->rms_eps = strcmp(s->arch, "llama") == 0 ? 1e-5f : 1e-6f;
  }
  s->tied = o->tied >= 0 ? (o->tied != 0) : c->p->tied >= 0 ? c->p->tied : strcmp(s->arch, "qwen2") == 0;
  if (c->spm) {
    c->n_special = 0;
    if (c->p->n_vocab) {
      c->n_merges = c->p->n_vocab - SPM_CONTROL - 256 - SPM_SINGLES;
    } else {
      c->n_merges = c->p->n_merges;
    }
    s->n_vocab = SPM_CONTROL + 256 + SPM_SINGLES + c->n_merges;
  } else {
    c->n_special = strcmp(s->arch, "llama") == 0 ? 5 : 3;
    c->n_merges = c->p->n_vocab ? c->p->n_vocab - 256 - c->n_special : c->p->n_merges;
    s->n_vocab = 256 + c->n_merges + c->n_special;
  }
  return 0;
}

int testmodel_shape(const struct testmodel_opts *o, struct testmodel_shape *s, struct err *e) {
  struct cfg c;
  int rc = resolve(o, &c, e);
  if (rc == 0) *s = c.s;
  return rc;
}

/* ---- vocabulary ---- */

/* Raw token strings with a hash set for uniqueness. */
struct vocab {
  uint8_t *bytes;
  size_t used, cap;
  size_t *off, *len;
  size_t n, ncap;
  uint32_t *slots; /* index + 1, 0 = empty */
  size_t nslots;
};

static void vocab_free(struct vocab *v) {
  free(v->bytes);
  free(v->off);
  free(v->len);
  free(v->slots);
}

static int vocab_init(struct vocab *v, size_t n_max) {
  memset(v, 0, sizeof(*v));
  v->nslots = 1024;
  while (v->nslots < n_max * 2) v->nslots *= 2;
  v->slots = calloc(v->nslots, sizeof(*v->slots));
  v->ncap = n_max;
  v->off = calloc(n_max, sizeof(*v->off));
  v->len = calloc(n_max, sizeof(*v->len));
  v->cap = n_max * 8 + 1024;
  v->bytes = malloc(v->cap);
  return v->slots && v->off && v->len && v->bytes ? 0 : ERR_NOMEM;
}

static const uint8_t *vtok(const struct vocab *v, size_t i) { return v->bytes + v->off[i]; }

/* 0 added, 1 already present, ERR_NOMEM / ERR_LIMIT. */
static int vocab_add(struct vocab *v, const uint8_t *p, size_t n) {
  size_t mask = v->nslots - 1, h = (size_t)fnv(p, n) & mask;
  for (; v->slots[h]; h = (h + 1) & mask) {
    size_t i = v->slots[h] - 1;
    if (v->len[i] == n && memcmp(vtok(v, i), p, n) == 0) return 1;
  }
  if (v->n >= v->ncap) return ERR_LIMIT;
  if (v->used + n > v->cap) {
    size_t nc = (v->used + n) * 2;
    uint8_t *nb = realloc(v->bytes, nc);
    if (!nb) return ERR_NOMEM;
    v->bytes = nb;
    v->cap = nc;
  }
  memcpy(v->bytes + v->used, p, n);
  v->off[v->n] = v->used;
  v->len[v->n] = n;
  v->used += n;
  v->slots[h] = (uint32_t)(++v->n);
  return 0;
}

/* Output strings (what goes into the file). */
struct strs {
  char *arena;
  size_t used, cap;
  size_t *off, *len;
  size_t n, ncap;
};

static int strs_init(struct strs *s, size_t n_max) {
  memset(s, 0, sizeof(*s));
  s->ncap = n_max;
  s->off = calloc(n_max ? n_max : 1, sizeof(*s->off));
  s->len = calloc(n_max ? n_max : 1, sizeof(*s->len));
  s->cap = n_max * 16 + 1024;
  s->arena = malloc(s->cap);
  return s->off && s->len && s->arena ? 0 : ERR_NOMEM;
}

static void strs_free(struct strs *s) {
  free(s->arena);
  free(s->off);
  free(s->len);
}

/* Starts a new string; strs_put appends to the last one. */
static int strs_new(struct strs *s) {
  if (s->n >= s->ncap) return ERR_LIMIT;
  s->off[s->n] = s->used;
  s->len[s->n] = 0;
  s->n++;
  return 0;
}

static int strs_put(struct strs *s, const void *p, size_t n) {
  if (s->used + n > s->cap) {
    size_t nc = (s->used + n) * 2;
    char *na = realloc(s->arena, nc);
    if (!na) return ERR_NOMEM;
    s->arena = na;
    s->cap = nc;
  }
  memcpy(s->arena + s->used, p, n);
  s->used += n;
  s->len[s->n - 1] += n;
  return 0;
}

/* Pointer array for the writer (valid until the next strs_put). */
static const char **strs_ptrs(const struct strs *s) {
  const char **p = calloc(s->n ? s->n : 1, sizeof(*p));
  if (p)
    for (size_t i = 0; i < s->n; i++) p[i] = s->arena + s->off[i];
  return p;
}

/* GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other 68
 * bytes for U+0100 onwards, in byte order. Writes the UTF-8 of byte b's symbol. */
static size_t gpt2_symbol(uint8_t b, char out[2]) {
  uint32_t cp;
  if ((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174) {
    cp = b;
  } else {
    uint32_t k = 0;
    for (uint32_t x = 0; x < b; x++)
      if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) k++;
    cp = 256 + k;
  }
  if (cp < 0x80) {
    out[0] = (char)cp;
    return 1;
  }
  out[0] = (char)(0xc0 | (cp >> 6));
  out[1] = (char)(0x80 | (cp & 0x3f));
  return 2;
}

static int put_gpt2(struct strs *s, const uint8_t *p, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char sym[2];
    size_t k = gpt2_symbol(p[i], sym);
    int rc = strs_put(s, sym, k);
    if (rc) return rc;
  }
  return 0;
}

/* Picks an index in [0, n), favouring early (short) entries. */
static size_t pick(uint64_t *rng, size_t n) {
  size_t a = (size_t)(splitmix(rng) % n), b = (size_t)(splitmix(rng) % n);
  return a < b ? a : b;
}

/* Grows `v` by n_merges word-like tokens: either a word piece ("ab") or a space-led one
 * (" ab", with `space` the space symbol's raw bytes). left/right record each merge. */
static int gen_merges(struct vocab *v, uint64_t *rng, const uint8_t *space, size_t space_len, uint32_t n_merges,
                      uint32_t *left, uint32_t *right) {
  size_t *words = calloc(n_merges + 64, sizeof(*words)), *spaced = calloc(n_merges + 64, sizeof(*spaced));
  size_t nw = 0, ns = 0;
  int rc = 0;
  if (!words || !spaced) {
    rc = ERR_NOMEM;
    goto out;
  }
  /* Seed lists: single letters, most frequent English letters first since pick() favours
   * early entries (so merges fire on ordinary text), and the bare space symbol. */
  static const char freq[] = "etaoinshrdlcumwfgypbvkjxqz";
  for (const char *ch = freq; *ch; ch++)
    for (size_t i = 0; i < v->n; i++)
      if (v->len[i] == 1 && vtok(v, i)[0] == (uint8_t)*ch) words[nw++] = i;
  for (size_t i = 0; i < v->n; i++)
    if (v->len[i] == space_len && memcmp(vtok(v, i), space, space_len) == 0) spaced[ns++] = i;
  if (!nw || !ns) {
    rc = ERR_INVALID;
    goto out;
  }
  uint64_t attempts = 0;
  for (uint32_t m = 0; m < n_merges;) {
    if (++attempts > (uint64_t)n_merges * 100 + 10000) {
      rc = ERR_LIMIT;
      goto out;
    }
    int sp = (splitmix(rng) & 1) != 0;
    size_t l = sp ? spaced[pick(rng, ns)] : words[pick(rng, nw)];
    size_t r = words[pick(rng, nw)];
    size_t n = v->len[l] + v->len[r];
    if (n > MAX_TOKEN_BYTES) continue;
    uint8_t tmp[MAX_TOKEN_BYTES];
    memcpy(tmp, vtok(v, l), v->len[l]);
    memcpy(tmp + v->len[l], vtok(v, r), v->len[r]);
    rc = vocab_add(v, tmp, n);
    if (rc < 0) goto out;
    if (rc == 1) {
      rc = 0;
      continue;
    }
    if (sp) spaced[ns++] = v->n - 1;
    else words[nw++] = v->n - 1;
    left[m] = (uint32_t)l;
    right[m] = (uint32_t)r;
    m++;
  }
out:
  free(words);
  free(spaced);
  return rc;
}

static int fail_nomem(int rc, struct err *e) {
  return rc == ERR_NOMEM ? err_set(e, ERR_NOMEM, "out of memory")
                         : err_set(e, rc, "cannot generate the test vocabulary");
}

/* Writes the tokenizer metadata. */
static int write_tokenizer(struct gguf_writer *w, const struct cfg *c, uint64_t seed, struct err *e) {
  struct vocab v;
  struct strs toks, merges;
  uint32_t n_vocab = c->s.n_vocab;
  float *scores = calloc(n_vocab, sizeof(*scores));
  int32_t *types = calloc(n_vocab, sizeof(*types));
  uint32_t *ml = calloc(c->n_merges + 1, sizeof(*ml)), *mr = calloc(c->n_merges + 1, sizeof(*mr));
  const char **tp = NULL, **mp = NULL;
  uint64_t rng = seed ^ 0x746f6b656e697a65ull;
  int rc = vocab_init(&v, n_vocab);
  int rc2 = strs_init(&toks, n_vocab), rc3 = strs_init(&merges, c->spm ? 0 : c->n_merges);
  if (rc || rc2 || rc3 || !scores || !types || !ml || !mr) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  uint32_t is_llama = strcmp(c->s.arch, "llama") == 0;
  if (!c->spm) {
    /* 256 byte tokens, the merges, then the special tokens. */
    for (uint32_t b = 0; b < 256; b++) {
      uint8_t x = (uint8_t)b;
      if ((rc = vocab_add(&v, &x, 1)) != 0) goto gen_fail;
    }
    const uint8_t sp = ' ';
    if ((rc = gen_merges(&v, &rng, &sp, 1, c->n_merges, ml, mr)) != 0) goto gen_fail;
    for (size_t i = 0; i < v.n; i++) {
      if ((rc = strs_new(&toks)) || (rc = put_gpt2(&toks, vtok(&v, i), v.len[i]))) goto gen_fail;
      types[i] = 1;
      scores[i] = i < 256 ? 0.0f : -(float)(i - 255);
    }
    for (uint32_t m = 0; m < c->n_merges; m++) {
      if ((rc = strs_new(&merges)) || (rc = put_gpt2(&merges, vtok(&v, ml[m]), v.len[ml[m]])) ||
          (rc = strs_put(&merges, " ", 1)) || (rc = put_gpt2(&merges, vtok(&v, mr[m]), v.len[mr[m]])))
        goto gen_fail;
    }
    const char *const *sp_names = is_llama ? llama3_specials : qwen_specials;
    for (uint32_t k = 0; k < c->n_special; k++) {
      if ((rc = strs_new(&toks)) || (rc = strs_put(&toks, sp_names[k], strlen(sp_names[k])))) goto gen_fail;
      types[toks.n - 1] = 3;
    }
  } else {
    static const char *const ctl[SPM_CONTROL] = {"<unk>", "<s>", "</s>"};
    for (uint32_t k = 0; k < SPM_CONTROL; k++) {
      /* Reserve the control strings in the set so no piece can collide with them. */
      if ((rc = vocab_add(&v, (const uint8_t *)ctl[k], strlen(ctl[k]))) != 0) goto gen_fail;
      types[k] = k == 0 ? 2 : 3;
    }
    for (uint32_t b = 0; b < 256; b++) {
      char name[8];
      snprintf(name, sizeof(name), "<0x%02X>", b);
      if ((rc = vocab_add(&v, (const uint8_t *)name, strlen(name))) != 0) goto gen_fail;
      types[SPM_CONTROL + b] = 6;
    }
    static const uint8_t ws[3] = {0xe2, 0x96, 0x81}; /* U+2581 */
    if ((rc = vocab_add(&v, ws, 3)) != 0) goto gen_fail;
    for (uint8_t ch = 0x21; ch <= 0x7e; ch++)
      if ((rc = vocab_add(&v, &ch, 1)) != 0) goto gen_fail;
    if ((rc = gen_merges(&v, &rng, ws, 3, c->n_merges, ml, mr)) != 0) goto gen_fail;
    for (size_t i = 0; i < v.n; i++) {
      if ((rc = strs_new(&toks)) || (rc = strs_put(&toks, vtok(&v, i), v.len[i]))) goto gen_fail;
      if (i >= SPM_CONTROL + 256) {
        types[i] = 1;
        scores[i] = -(float)(i - (SPM_CONTROL + 256));
      }
    }
  }
  if (toks.n != n_vocab) {
    rc = err_set(e, ERR_INVALID, "test vocabulary has %zu tokens, expected %" PRIu32, toks.n, n_vocab);
    goto out;
  }
  tp = strs_ptrs(&toks);
  mp = strs_ptrs(&merges);
  if (!tp || !mp) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  if ((rc = gguf_writer_kv_str(w, "tokenizer.ggml.model", c->spm ? "llama" : "gpt2", e))) goto out;
  if (!c->spm && (rc = gguf_writer_kv_str(w, "tokenizer.ggml.pre", is_llama ? "llama-bpe" : "qwen2", e))) goto out;
  if ((rc = gguf_writer_kv_arr_str(w, "tokenizer.ggml.tokens", tp, toks.len, toks.n, e))) goto out;
  if ((rc = gguf_writer_kv_arr(w, "tokenizer.ggml.scores", GGUF_F32, scores, n_vocab, e))) goto out;
  if ((rc = gguf_writer_kv_arr(w, "tokenizer.ggml.token_type", GGUF_I32, types, n_vocab, e))) goto out;
  if (!c->spm && (rc = gguf_writer_kv_arr_str(w, "tokenizer.ggml.merges", mp, merges.len, merges.n, e))) goto out;
  uint32_t bos, eos, pad;
  int add_bos;
  if (c->spm) {
    bos = 1, eos = 2, pad = 0, add_bos = 1;
    if ((rc = gguf_writer_kv_u32(w, "tokenizer.ggml.unknown_token_id", 0, e))) goto out;
    if ((rc = gguf_writer_kv_bool(w, "tokenizer.ggml.add_space_prefix", 1, e))) goto out;
  } else if (is_llama) {
    uint32_t base = 256 + c->n_merges;
    bos = base, eos = base + 2, pad = base + 1, add_bos = 1; /* <|begin_of_text|>, <|eot_id|> */
  } else {
    uint32_t base = 256 + c->n_merges;
    bos = base, eos = base + 2, pad = base, add_bos = 0; /* <|endoftext|>, <|im_end|> */
  }
  if ((rc = gguf_writer_kv_u32(w, "tokenizer.ggml.bos_token_id", bos, e))) goto out;
  if ((rc = gguf_writer_kv_u32(w, "tokenizer.ggml.eos_token_id", eos, e))) goto out;
  if ((rc = gguf_writer_kv_u32(w, "tokenizer.ggml.padding_token_id", pad, e))) goto out;
  if ((rc = gguf_writer_kv_bool(w, "tokenizer.ggml.add_bos_token", add_bos, e))) goto out;
  if ((rc = gguf_writer_kv_bool(w, "tokenizer.ggml.add_eos_token", 0, e))) goto out;
  rc = gguf_writer_kv_str(w, "tokenizer.chat_template", is_llama && !c->spm ? llama3_template : chatml_template, e);
  goto out;
gen_fail:
  rc = fail_nomem(rc, e);
out:
  free(tp);
  free(mp);
  vocab_free(&v);
  strs_free(&toks);
  strs_free(&merges);
  free(scores);
  free(types);
  free(ml);
  free(mr);
  return rc;
}

/* ---- tensors ---- */

enum init { INIT_MATRIX, INIT_EMBED, INIT_NORM, INIT_BIAS };

struct tspec {
  char name[48];
  uint32_t type, n_dims;
  uint64_t ne[2];
  enum init init;
};

static uint32_t file_type_of(uint32_t t) {
  switch (t) {
  case QUANT_F32: return 0;
  case QUANT_F16: return 1;
  case QUANT_Q4_0: return 2;
  case QUANT_Q8_0: return 7;
  case QUANT_Q4_K: return 15;
  case QUANT_Q6_K: return 18;
  case QUANT_BF16: return 32;
  default: return 0;
  }
}

/* Rows that are not whole blocks of `want` fall back to Q8_0, then F32, as llama.cpp's
 * quantizer does for such tensors. */
static uint32_t matrix_type(uint32_t want, uint64_t ne0) {
  const struct quant_type_info *ti = quant_type_info(want);
  if (ne0 % ti->block_elems == 0) return want;
  return ne0 % 32 == 0 ? QUANT_Q8_0 : QUANT_F32;
}

static int add_spec(struct tspec *ts, size_t *n, const char *name, uint32_t type, uint64_t ne0, uint64_t ne1,
                    enum init init) {
  if (*n >= MAX_TENSORS) return ERR_LIMIT;
  struct tspec *t = &ts[(*n)++];
  snprintf(t->name, sizeof(t->name), "%s", name);
  t->init = init;
  t->ne[0] = ne0;
  t->ne[1] = ne1;
  t->n_dims = ne1 ? 2 : 1;
  if (!ne1) t->ne[1] = 1;
  t->type = init == INIT_NORM || init == INIT_BIAS ? QUANT_F32 : type;
  return 0;
}

static int build_specs(const struct cfg *c, uint32_t type, struct tspec *ts, size_t *n) {
  const struct testmodel_shape *s = &c->s;
  uint64_t d = s->n_embd, q = (uint64_t)s->n_head * s->head_dim, kv = (uint64_t)s->n_head_kv * s->head_dim;
  int qwen2 = strcmp(s->arch, "qwen2") == 0, qwen3 = strcmp(s->arch, "qwen3") == 0;
  int rc = 0;
  *n = 0;
  rc |= add_spec(ts, n, "token_embd.weight", matrix_type(type, d), d, s->n_vocab, INIT_EMBED);
  rc |= add_spec(ts, n, "output_norm.weight", QUANT_F32, d, 0, INIT_NORM);
  if (!s->tied) rc |= add_spec(ts, n, "output.weight", matrix_type(type, d), d, s->n_vocab, INIT_MATRIX);
  for (uint32_t l = 0; l < s->n_layer && !rc; l++) {
    char nm[48];
#define BLK(suffix) (snprintf(nm, sizeof(nm), "blk.%" PRIu32 ".%s", l, suffix), nm)
    rc |= add_spec(ts, n, BLK("attn_norm.weight"), QUANT_F32, d, 0, INIT_NORM);
    rc |= add_spec(ts, n, BLK("attn_q.weight"), matrix_type(type, d), d, q, INIT_MATRIX);
    rc |= add_spec(ts, n, BLK("attn_k.weight"), matrix_type(type, d), d, kv, INIT_MATRIX);
    rc |= add_spec(ts, n, BLK("attn_v.weight"), matrix_type(type, d), d, kv, INIT_MATRIX);
    if (qwen2) {
      rc |= add_spec(ts, n, BLK("attn_q.bias"), QUANT_F32, q, 0, INIT_BIAS);
      rc |= add_spec(ts, n, BLK("attn_k.bias"), QUANT_F32, kv, 0, INIT_BIAS);
      rc |= add_spec(ts, n, BLK("attn_v.bias"), QUANT_F32, kv, 0, INIT_BIAS);
    }
    if (qwen3) {
      rc |= add_spec(ts, n, BLK("attn_q_norm.weight"), QUANT_F32, s->head_dim, 0, INIT_NORM);
      rc |= add_spec(ts, n, BLK("attn_k_norm.weight"), QUANT_F32, s->head_dim, 0, INIT_NORM);
    }
    rc |= add_spec(ts, n, BLK("attn_output.weight"), matrix_type(type, q), q, d, INIT_MATRIX);
    rc |= add_spec(ts, n, BLK("ffn_norm.weight"), QUANT_F32, d, 0, INIT_NORM);
    rc |= add_spec(ts, n, BLK("ffn_gate.weight"), matrix_type(type, d), d, s->n_ff, INIT_MATRIX);
    rc |= add_spec(ts, n, BLK("ffn_up.weight"), matrix_type(type, d), d, s->n_ff, INIT_MATRIX);
    rc |= add_spec(ts, n, BLK("ffn_down.weight"), matrix_type(type, s->n_ff), s->n_ff, d, INIT_MATRIX);
#undef BLK
  }
  return rc ? ERR_LIMIT : 0;
}

static float init_value(enum init k, uint64_t *rng, float mscale) {
  float u = uni(rng);
  switch (k) {
  case INIT_MATRIX: return u * mscale;
  case INIT_EMBED: return u;
  case INIT_NORM: return 1.0f + 0.1f * u;
  default: return 0.1f * u;
  }
}

static int write_data(struct gguf_writer *w, const struct tspec *ts, size_t n, uint64_t seed, struct err *e) {
  float *buf = malloc((size_t)CHUNK_FLOATS * sizeof(float) + 8192 * sizeof(float));
  if (!buf) return err_set(e, ERR_NOMEM, "out of memory");
  int rc = 0;
  for (size_t i = 0; i < n && !rc; i++) {
    const struct tspec *t = &ts[i];
    uint64_t rng = seed ^ fnv(t->name, strlen(t->name));
    /* Uniform with variance 1/n_in keeps activations near unit scale. */
    float mscale = sqrtf(3.0f / (float)t->ne[0]);
    uint64_t rows_per = CHUNK_FLOATS / t->ne[0];
    if (rows_per == 0) rows_per = 1;
    for (uint64_t r = 0; r < t->ne[1] && !rc; r += rows_per) {
      uint64_t nr = t->ne[1] - r < rows_per ? t->ne[1] - r : rows_per;
      uint64_t cnt = nr * t->ne[0];
      for (uint64_t k = 0; k < cnt; k++) buf[k] = init_value(t->init, &rng, mscale);
      rc = gguf_writer_data_f32(w, buf, cnt, e);
    }
  }
  free(buf);
  return rc;
}

int testmodel_write(const struct testmodel_opts *o, FILE *f, struct err *e) {
  struct cfg c;
  int rc = resolve(o, &c, e);
  if (rc) return rc;
  const struct testmodel_shape *s = &c.s;
  if (s->n_embd > 8192 || s->n_ff > 65536) return err_set(e, ERR_INVALID, "shape too large");
  struct tspec *ts = calloc(MAX_TENSORS, sizeof(*ts));
  struct gguf_writer *w = gguf_writer_new();
  size_t nts = 0;
  if (!ts || !w) {
    rc = err_set(e, ERR_NOMEM, "out of memory");
    goto out;
  }
  char key[96], name[96];
#define K(suffix) (snprintf(key, sizeof(key), "%s.%s", s->arch, suffix), key)
  snprintf(name, sizeof(name), "cocoon-test %s %s", s->arch, c.p->name);
  if ((rc = gguf_writer_kv_str(w, "general.architecture", s->arch, e)) ||
      (rc = gguf_writer_kv_str(w, "general.name", name, e)) ||
      (rc = gguf_writer_kv_u32(w, "general.file_type", file_type_of(o->type), e)) ||
      (rc = gguf_writer_kv_u32(w, "general.quantization_version", 2, e)) ||
      (rc = gguf_writer_kv_u32(w, K("context_length"), s->n_ctx, e)) ||
      (rc = gguf_writer_kv_u32(w, K("embedding_length"), s->n_embd, e)) ||
      (rc = gguf_writer_kv_u32(w, K("block_count"), s->n_layer, e)) ||
      (rc = gguf_writer_kv_u32(w, K("feed_forward_length"), s->n_ff, e)) ||
      (rc = gguf_writer_kv_u32(w, K("attention.head_count"), s->n_head, e)) ||
      (rc = gguf_writer_kv_u32(w, K("attention.head_count_kv"), s->n_head_kv, e)) ||
      (rc = gguf_writer_kv_u32(w, K("attention.key_length"), s->head_dim, e)) ||
      (rc = gguf_writer_kv_u32(w, K("attention.value_length"), s->head_dim, e)) ||
      (rc = gguf_writer_kv_f32(w, K("rope.freq_base"), s->rope_base, e)) ||
      (rc = gguf_writer_kv_f32(w, K("attention.layer_norm_rms_epsilon"), s->rms_eps, e)))
    goto out;
  if (strcmp(s->arch, "llama") == 0 && ((rc = gguf_writer_kv_u32(w, K("rope.dimension_count"), s->head_dim, e)) ||
                                        (rc = gguf_writer_kv_u32(w, K("vocab_size"), s->n_vocab, e))))
    goto out;
#undef K
  if ((rc = write_tokenizer(w, &c, o->seed, e))) goto out;
  if (build_specs(&c, o->type, ts, &nts)) {
    rc = err_set(e, ERR_LIMIT, "too many tensors");
    goto out;
  }
  for (size_t i = 0; i < nts; i++)
    if ((rc = gguf_writer_tensor(w, ts[i].name, ts[i].type, ts[i].n_dims, ts[i].ne, e))) goto out;
  if ((rc = gguf_writer_begin(w, f, e)) || (rc = write_data(w, ts, nts, o->seed, e))) goto out;
  rc = gguf_writer_finish(w, e);
out:
  gguf_writer_free(w);
  free(ts);
  return rc;
}

int testmodel_write_file(const struct testmodel_opts *o, const char *path, struct err *e) {
  char tmp[4096];
  if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
    return err_set(e, ERR_INVALID, "path too long");
  FILE *f = fopen(tmp, "wb");
  if (!f) return err_set(e, ERR_IO, "cannot create %s: %s", tmp, strerror(errno));
  int rc = testmodel_write(o, f, e);
  if (fclose(f) != 0 && rc == 0) rc = err_set(e, ERR_IO, "cannot write %s: %s", tmp, strerror(errno));
  if (rc == 0 && rename(tmp, path) != 0) rc = err_set(e, ERR_IO, "cannot rename to %s: %s", path, strerror(errno));
  if (rc) unlink(tmp);
  return rc;
}
