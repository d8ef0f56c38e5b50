/* model: llama/qwen2/qwen3 hyperparameters and weight views from a GGUF file, and the forward pass. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "engine/model.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/quant.h"
#include "engine/threadpool.h"

/* ---- loading ---------------------------------------------------------------------------- */

/* A required u32 hyperparameter "<arch>.<suffix>"; a per-layer array is refused by name. */
static int hp_u32(const struct gguf *g, const char *arch, const char *suffix, int required, uint32_t def,
                  uint32_t max, uint32_t *out, struct err *e) {
  char key[128];
  snprintf(key, sizeof(key), "%s.%s", arch, suffix);
  const struct gguf_kv *kv = gguf_find_kv(g, key);
  if (!kv) {
    if (required) return err_set(e, ERR_PARSE, "model: required key \"%s\" is missing", key);
    *out = def;
    return 0;
  }
  if (kv->type == GGUF_ARRAY)
    return err_set(e, ERR_INVALID, "model: key \"%s\" holds per-layer values, which are not supported", key);
  if (gguf_get_u32(g, key, out, NULL) != 0)
    return err_set(e, ERR_PARSE, "model: key \"%s\" is not an unsigned 32-bit integer (%s)", key,
                   gguf_vtype_name(kv->type));
  if (*out == 0 || *out > max)
    return err_set(e, ERR_LIMIT, "model: key \"%s\" = %u is outside 1..%u", key, *out, max);
  return 0;
}

static int hp_f32(const struct gguf *g, const char *arch, const char *suffix, int required, float def, float *out,
                  struct err *e) {
  char key[128];
  snprintf(key, sizeof(key), "%s.%s", arch, suffix);
  const struct gguf_kv *kv = gguf_find_kv(g, key);
  if (!kv) {
    if (required) return err_set(e, ERR_PARSE, "model: required key \"%s\" is missing", key);
    *out = def;
    return 0;
  }
  if (gguf_get_f32(g, key, out, NULL) != 0)
    return err_set(e, ERR_PARSE, "model: key \"%s\" is not a float (%s)", key, gguf_vtype_name(kv->type));
  if (!isfinite(*out)) return err_set(e, ERR_PARSE, "model: key \"%s\" is not finite", key);
  return 0;
}

/* A matrix "name" of n_out rows of n_in elements. Absent and optional: out->data stays NULL. */
static int get_mat(const struct gguf *g, const char *name, uint32_t n_in, uint32_t n_out, int required,
                   struct ops_mat *out, struct err *e) {
  memset(out, 0, sizeof(*out));
  const struct gguf_tensor *t = gguf_find_tensor(g, name);
  if (!t) return required ? err_set(e, ERR_PARSE, "model: tensor \"%s\" is missing", name) : 0;
  const struct quant_type_info *ti = quant_type_info(t->type);
  if (!ti || !ti->supported)
    return err_set(e, ERR_INVALID, "model: tensor \"%s\" has type %s, which the engine does not compute with", name,
                   ti ? ti->name : "unknown");
  if (t->n_dims != 2 || t->ne[0] != n_in || t->ne[1] != n_out)
    return err_set(e, ERR_PARSE, "model: tensor \"%s\" has shape [%llu, %llu] (%u dims), expected [%u, %u]", name,
                   (unsigned long long)t->ne[0], (unsigned long long)t->ne[1], t->n_dims, n_in, n_out);
  uint64_t rb;
  if (quant_row_bytes(t->type, n_in, &rb) != 0)
    return err_set(e, ERR_PARSE, "model: tensor \"%s\": rows of %u are not whole %s blocks", name, n_in, ti->name);
  out->data = t->data;
  out->type = t->type;
  out->n_in = n_in;
  out->n_out = n_out;
  out->row_bytes = (size_t)rb;
  return 0;
}

/* A vector "name" of n elements, converted to an owned F32 copy. Absent and optional: NULL. */
static int get_vec(const struct gguf *g, const char *name, uint32_t n, int required, float **out, struct err *e) {
  *out = NULL;
  const struct gguf_tensor *t = gguf_find_tensor(g, name);
  if (!t) return required ? err_set(e, ERR_PARSE, "model: tensor \"%s\" is missing", name) : 0;
  const struct quant_type_info *ti = quant_type_info(t->type);
  if (!ti || !ti->supported)
    return err_set(e, ERR_INVALID, "model: tensor \"%s\" has type %s, which the engine does not compute with", name,
                   ti ? ti->name : "unknown");
  if (t->n_dims != 1 || t->ne[0] != n)
    return err_set(e, ERR_PARSE, "model: tensor \"%s\" has shape [%llu] (%u dims), expected [%u]", name,
                   (unsigned long long)t->ne[0], t->n_dims, n);
  float *v = malloc((size_t)n * sizeof(float));
  if (!v) return err_set(e, ERR_NOMEM, "model: out of memory");
  if (quant_dequantize(t->type, t->data, v, n) != 0) {
    free(v);
    return err_set(e, ERR_PARSE, "model: tensor \"%s\": %u elements are not whole %s blocks", name, n, ti->name);
  }
  *out = v;
  return 0;
}

static void add_eog(struct model *m, int64_t id) {
  if (id < 0 || id >= m->hp.n_vocab || m->n_eog >= MODEL_MAX_EOG) return;
  for (uint32_t i = 0; i < m->n_eog; i++)
    if (m->eog[i] == id) return;
  m->eog[m->n_eog++] = (int32_t)id;
}

/* Special token ids: bos/eos from the metadata; the end-of-generation set adds eot/eom and the
 * usual end-of-turn texts of the ChatML and Llama-3 families. */
static void load_special_tokens(struct model *m) {
  const struct gguf *g = m->g;
  uint32_t id;
  m->bos_id = m->eos_id = -1;
  if (gguf_get_u32(g, "tokenizer.ggml.bos_token_id", &id, NULL) == 0 && id < m->hp.n_vocab) m->bos_id = (int32_t)id;
  if (gguf_get_u32(g, "tokenizer.ggml.eos_token_id", &id, NULL) == 0 && id < m->hp.n_vocab) m->eos_id = (int32_t)id;
  add_eog(m, m->eos_id);
  if (gguf_get_u32(g, "tokenizer.ggml.eot_token_id", &id, NULL) == 0) add_eog(m, id);
  if (gguf_get_u32(g, "tokenizer.ggml.eom_token_id", &id, NULL) == 0) add_eog(m, id);
  const struct gguf_kv *toks = NULL;
  if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &toks, NULL) != 0) return;
  static const char *const texts[] = {"<|eot_id|>", "<|eom_id|>", "<|im_end|>", "<|endoftext|>", "<|end_of_text|>",
                                      "</s>"};
  uint64_t n = toks->arr_n < m->hp.n_vocab ? toks->arr_n : m->hp.n_vocab;
  for (uint64_t i = 0; i < n; i++) {
    struct gguf_str s = gguf_arr_str(toks, i);
    if (s.len < 4 || s.p[0] != '<') continue;
    for (size_t k = 0; k < sizeof(texts) / sizeof(texts[0]); k++)
      if (gguf_str_eq(s, texts[k])) add_eog(m, (int64_t)i);
  }
}

static int load_rope(struct model *m, const char *arch, struct err *e) {
  struct model_hparams *hp = &m->hp;
  int rc;
  hp->rope.kind = hp->arch == MODEL_ARCH_LLAMA ? OPS_ROPE_NORM : OPS_ROPE_NEOX;
  if ((rc = hp_f32(m->g, arch, "rope.freq_base", 0, 10000.0f, &hp->rope.freq_base, e)) != 0) return rc;
  if (!(hp->rope.freq_base > 1.0f)) return err_set(e, ERR_PARSE, "model: %s.rope.freq_base must be > 1", arch);
  if ((rc = hp_u32(m->g, arch, "rope.dimension_count", 0, hp->head_dim_k, hp->head_dim_k, &hp->rope.n_rot, e)) != 0)
    return rc;
  if (hp->rope.n_rot % 2)
    return err_set(e, ERR_PARSE, "model: %s.rope.dimension_count = %u is odd", arch, hp->rope.n_rot);
  /* Scaling: "none" or "linear" (positions divided by the factor); others change the
   * attention math and are refused rather than run wrongly. */
  char key[128];
  snprintf(key, sizeof(key), "%s.rope.scaling.type", arch);
  struct gguf_str type = {"", 0};
  int has_type = gguf_find_kv(m->g, key) != NULL;
  if (has_type && gguf_get_str(m->g, key, &type, NULL) != 0)
    return err_set(e, ERR_PARSE, "model: key \"%s\" is not a string", key);
  float factor = 0;
  if ((rc = hp_f32(m->g, arch, "rope.scaling.factor", 0, 0.0f, &factor, e)) != 0) return rc;
  if (factor == 0 && (rc = hp_f32(m->g, arch, "rope.scale_linear", 0, 0.0f, &factor, e)) != 0) return rc;
  hp->rope.freq_scale = 1.0f;
  if (has_type && gguf_str_eq(type, "none")) factor = 0;
  else if (has_type && !gguf_str_eq(type, "linear")) {
    char t[48];
    size_t n = type.len < sizeof(t) - 1 ? (size_t)type.len : sizeof(t) - 1;
    memcpy(t, type.p, n);
    t[n] = 0;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)t[i] < 0x20 || (unsigned char)t[i] >= 0x7f) t[i] = '?';
    return err_set(e, ERR_INVALID, "model: RoPE scaling type \"%s\" is not supported (none, linear)", t);
  }
  if (factor != 0) {
    if (!(factor > 0)) return err_set(e, ERR_PARSE, "model: RoPE scaling factor %g is not positive", (double)factor);
    hp->rope.freq_scale = 1.0f / factor;
  }
  if ((rc = get_vec(m->g, "rope_freqs.weight", hp->rope.n_rot / 2, 0, &m->rope_factors, e)) != 0) return rc;
  if (m->rope_factors)
    for (uint32_t i = 0; i < hp->rope.n_rot / 2; i++)
      if (!(m->rope_factors[i] > 0) || !isfinite(m->rope_factors[i]))
        return err_set(e, ERR_PARSE, "model: tensor \"rope_freqs.weight\": factor %u is not a positive number", i);
  hp->rope.freq_factors = m->rope_factors;
  return 0;
}

static int load_hparams(struct model *m, struct err *e) {
  const struct gguf *g = m->g;
  struct model_hparams *hp = &m->hp;
  struct gguf_str a;
  int rc;
  if (gguf_get_str(g, "general.architecture", &a, NULL) != 0)
    return err_set(e, ERR_PARSE, "model: key \"general.architecture\" is missing or not a string");
  if (gguf_str_eq(a, "llama")) hp->arch = MODEL_ARCH_LLAMA, hp->arch_name = "llama";
  else if (gguf_str_eq(a, "qwen2")) hp->arch = MODEL_ARCH_QWEN2, hp->arch_name = "qwen2";
  else if (gguf_str_eq(a, "qwen3")) hp->arch = MODEL_ARCH_QWEN3, hp->arch_name = "qwen3";
  else {
    char name[48];
    size_t n = a.len < sizeof(name) - 1 ? (size_t)a.len : sizeof(name) - 1;
    memcpy(name, a.p, n);
    name[n] = 0;
    for (size_t i = 0; i < n; i++)
      if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] >= 0x7f) name[i] = '?';
    return err_set(e, ERR_INVALID, "model: architecture \"%s\" is not supported (llama, qwen2, qwen3)", name);
  }
  const char *arch = hp->arch_name;
  if ((rc = hp_u32(g, arch, "embedding_length", 1, 0, MODEL_MAX_EMBD, &hp->n_embd, e)) != 0) return rc;
  if ((rc = hp_u32(g, arch, "block_count", 1, 0, MODEL_MAX_LAYERS, &hp->n_layer, e)) != 0) return rc;
  if ((rc = hp_u32(g, arch, "feed_forward_length", 1, 0, MODEL_MAX_FF, &hp->n_ff, e)) != 0) return rc;
  if ((rc = hp_u32(g, arch, "attention.head_count", 1, 0, MODEL_MAX_HEADS, &hp->n_head, e)) != 0) return rc;
  if ((rc = hp_u32(g, arch, "attention.head_count_kv", 0, hp->n_head, MODEL_MAX_HEADS, &hp->n_head_kv, e)) != 0)
    return rc;
  if ((rc = hp_u32(g, arch, "context_length", 0, 4096, MODEL_MAX_CTX, &hp->n_ctx_train, e)) != 0) return rc;
  if (hp->n_head % hp->n_head_kv)
    return err_set(e, ERR_PARSE, "model: %u attention heads are not a multiple of %u KV heads", hp->n_head,
                   hp->n_head_kv);
  uint32_t def_hd = hp->n_embd % hp->n_head == 0 ? hp->n_embd / hp->n_head : 0;
  int need_hd = def_hd == 0;
  if ((rc = hp_u32(g, arch, "attention.key_length", need_hd, def_hd, MODEL_MAX_HEAD_DIM, &hp->head_dim_k, e)) != 0)
    return rc;
  if ((rc = hp_u32(g, arch, "attention.value_length", need_hd, def_hd, MODEL_MAX_HEAD_DIM, &hp->head_dim_v, e)) != 0)
    return rc;
  if (hp->head_dim_k % 2) return err_set(e, ERR_PARSE, "model: head dimension %u is odd", hp->head_dim_k);
  if ((rc = hp_f32(g, arch, "attention.layer_norm_rms_epsilon", 1, 0, &hp->rms_eps, e)) != 0) return rc;
  if (!(hp->rms_eps > 0) || hp->rms_eps > 1)
    return err_set(e, ERR_PARSE, "model: %s.attention.layer_norm_rms_epsilon = %g is outside (0, 1]", arch,
                   (double)hp->rms_eps);
  return load_rope(m, arch, e);
}

static int load_tensors(struct model *m, struct err *e) {
  const struct gguf *g = m->g;
  struct model_hparams *hp = &m->hp;
  int rc;
  const struct gguf_tensor *te = gguf_find_tensor(g, "token_embd.weight");
  if (!te) return err_set(e, ERR_PARSE, "model: tensor \"token_embd.weight\" is missing");
  if (te->n_dims != 2 || te->ne[1] == 0 || te->ne[1] > MODEL_MAX_VOCAB)
    return err_set(e, ERR_PARSE, "model: tensor \"token_embd.weight\" has %u dims / %llu rows (vocabulary 1..%u)",
                   te->n_dims, (unsigned long long)te->ne[1], MODEL_MAX_VOCAB);
  hp->n_vocab = (uint32_t)te->ne[1];
  uint32_t d = hp->n_embd, V = hp->n_vocab;
  uint32_t qd = hp->n_head * hp->head_dim_k, kd = hp->n_head_kv * hp->head_dim_k, vd = hp->n_head_kv * hp->head_dim_v;
  uint32_t od = hp->n_head * hp->head_dim_v;
  if ((rc = get_mat(g, "token_embd.weight", d, V, 1, &m->tok_embd, e)) != 0) return rc;
  if ((rc = get_mat(g, "output.weight", d, V, 0, &m->output, e)) != 0) return rc;
  m->tied = m->output.data == NULL;
  if (m->tied) m->output = m->tok_embd;
  if ((rc = get_vec(g, "output_norm.weight", d, 1, &m->output_norm, e)) != 0) return rc;
  m->layers = calloc(hp->n_layer, sizeof(*m->layers));
  if (!m->layers) return err_set(e, ERR_NOMEM, "model: out of memory");
  for (uint32_t l = 0; l < hp->n_layer; l++) {
    struct model_layer *L = &m->layers[l];
    char n[GGUF_MAX_NAME];
#define NAME(s) (snprintf(n, sizeof(n), "blk.%u." s, l), n)
    int is_q2 = hp->arch == MODEL_ARCH_QWEN2, is_q3 = hp->arch == MODEL_ARCH_QWEN3;
    if ((rc = get_vec(g, NAME("attn_norm.weight"), d, 1, &L->attn_norm, e)) != 0 ||
        (rc = get_vec(g, NAME("ffn_norm.weight"), d, 1, &L->ffn_norm, e)) != 0 ||
        (rc = get_mat(g, NAME("attn_q.weight"), d, qd, 1, &L->wq, e)) != 0 ||
        (rc = get_mat(g, NAME("attn_k.weight"), d, kd, 1, &L->wk, e)) != 0 ||
        (rc = get_mat(g, NAME("attn_v.weight"), d, vd, 1, &L->wv, e)) != 0 ||
        (rc = get_mat(g, NAME("attn_output.weight"), od, d, 1, &L->wo, e)) != 0 ||
        (rc = get_mat(g, NAME("ffn_gate.weight"), d, hp->n_ff, 1, &L->gate, e)) != 0 ||
        (rc = get_mat(g, NAME("ffn_up.weight"), d, hp->n_ff, 1, &L->up, e)) != 0 ||
        (rc = get_mat(g, NAME("ffn_down.weight"), hp->n_ff, d, 1, &L->down, e)) != 0)
      return rc;
    /* Biases are optional for qwen2 (llama.cpp treats them so) and unused by the others. */
    if (is_q2 && ((rc = get_vec(g, NAME("attn_q.bias"), qd, 0, &L->bq, e)) != 0 ||
                  (rc = get_vec(g, NAME("attn_k.bias"), kd, 0, &L->bk, e)) != 0 ||
                  (rc = get_vec(g, NAME("attn_v.bias"), vd, 0, &L->bv, e)) != 0))
      return rc;
    if (is_q3 && ((rc = get_vec(g, NAME("attn_q_norm.weight"), hp->head_dim_k, 1, &L->q_norm, e)) != 0 ||
                  (rc = get_vec(g, NAME("attn_k_norm.weight"), hp->head_dim_k, 1, &L->k_norm, e)) != 0))
      return rc;
    if (gguf_find_tensor(g, NAME("attn_qkv.weight")))
      return err_set(e, ERR_INVALID, "model: tensor \"%s\" (fused QKV) is not supported", n);
#undef NAME
  }
  return 0;
}

/* The matrices the products use, repacked for the active kernel path (ops_mat_pack) unless
 * COCOON_ENGINE_REPACK=0, into one allocation in the order a token reads them (q, k, v, o,
 * gate, up, down of each layer, then the output): the hardware prefetcher's stream then runs
 * on from one product into the next. A mapped file's pages are dropped as they are copied, so
 * resident memory stays about the file's size; the embedding rows are still read from the
 * file. A tied output shares its rows with the embeddings, which are read row by row from the
 * file: only the output's view gets the copy. */
static int pack_weights(struct model *m, struct err *e) {
  const char *env = getenv("COCOON_ENGINE_REPACK");
  if (env && !strcmp(env, "0")) return 0;
  int drop = gguf_is_mapped(m->g);
  for (int pass = 0; pass < 2; pass++) {
    size_t off = 0;
    for (uint32_t l = 0; l <= m->hp.n_layer; l++) {
      struct model_layer *L = l < m->hp.n_layer ? &m->layers[l] : NULL;
      struct ops_mat *mats[7] = {&m->output};
      size_t n_mats = 1;
      if (L) {
        struct ops_mat *lm[7] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->gate, &L->up, &L->down};
        memcpy(mats, lm, sizeof(lm));
        n_mats = 7;
      }
      for (size_t i = 0; i < n_mats; i++) {
        size_t sz = ops_mat_pack_size(mats[i]);
        if (pass == 1 && sz) ops_mat_pack(mats[i], (uint8_t *)m->packed + off, drop);
        off += sz; /* each at most a few GB (MODEL_MAX_*), a few hundred of them */
      }
    }
    if (pass == 0) {
      if (off == 0) return 0;
      int rc = ops_pack_mem_new(off, &m->packed, e);
      if (rc) return rc;
      m->packed_bytes = off;
    }
  }
  return 0;
}

int model_from_gguf(struct gguf *g, struct model **out, struct err *e) {
  *out = NULL;
  struct model *m = calloc(1, sizeof(*m));
  if (!m) return err_set(e, ERR_NOMEM, "model: out of memory");
  m->g = g;
  int rc = load_hparams(m, e);
  if (rc == 0) rc = load_tensors(m, e);
  if (rc == 0) rc = pack_weights(m, e);
  if (rc != 0) {
    model_free(m);
    return rc;
  }
  load_special_tokens(m);
  *out = m;
  return 0;
}

int model_load(const char *path, struct model **out, struct err *e) {
  struct gguf *g = NULL;
  *out = NULL;
  int rc = gguf_open(path, &g, e);
  if (rc != 0) return rc;
  rc = model_from_gguf(g, out, e);
  if (rc != 0) {
    gguf_free(g);
    return rc;
  }
  (*out)->owns_gguf = 1;
  return 0;
}

void model_free(struct model *m) {
  if (!m) return;
  if (m->layers)
    for (uint32_t l = 0; l < m->hp.n_layer; l++) {
      struct model_layer *L = &m->layers[l];
      free(L->attn_norm);
      free(L->ffn_norm);
      free(L->bq);
      free(L->bk);
      free(L->bv);
      free(L->q_norm);
      free(L->k_norm);
    }
  free(m->layers);
  ops_pack_mem_free(m->packed, m->packed_bytes);
  free(m->output_norm);
  free(m->rope_factors);
  if (m->owns_gguf) gguf_free(m->g);
  free(m);
}

int model_is_eog(const struct model *m, int32_t tok) {
  for (uint32_t i = 0; i < m->n_eog; i++)
    if (m->eog[i] == tok) return 1;
  return 0;
}

int model_kv_new(const struct model *m, uint32_t n_ctx, struct kv_cache **out, struct err *e) {
  const struct model_hparams *hp = &m->hp;
  return kv_new(hp->n_layer, n_ctx, hp->n_head_kv * hp->head_dim_k, hp->n_head_kv * hp->head_dim_v, out, e);
}

/* ---- forward pass ----------------------------------------------------------------------- */

struct model_work {
  uint32_t max_batch;
  struct threadpool *pool;
  uint32_t n_threads;
  size_t max_in; /* longest weight row */
  float *x;      /* [B][n_embd] residual stream */
  float *xb;     /* [B][max_in] normalized input / attention output / ffn hidden */
  void *xr;      /* [B] activations prepared for the current weight type (<= 4 bytes each) */
  float *q, *k, *v;
  float *hb, *hb2; /* [B][n_ff] */
  float *o;        /* [B][n_embd] output of attn_output / ffn_down */
  uint32_t *pos;   /* [B] position of each token of the current batch */
  struct kv_cache **kvs; /* [B] cache of each token (model_forward's single-sequence batches) */
  uint8_t *want;   /* [B] logits wanted (model_forward's single-sequence batches) */
  float *scores;   /* [n_threads][scores_cap] attention scores, one row per thread */
  uint32_t scores_cap;
};

int model_work_new(const struct model *m, uint32_t max_batch, struct threadpool *pool, struct model_work **out,
                   struct err *e) {
  *out = NULL;
  const struct model_hparams *hp = &m->hp;
  if (max_batch == 0 || max_batch > MODEL_MAX_BATCH)
    return err_set(e, ERR_INVALID, "model: batch size %u is outside 1..%u", max_batch, MODEL_MAX_BATCH);
  struct model_work *w = calloc(1, sizeof(*w));
  if (!w) return err_set(e, ERR_NOMEM, "model: out of memory");
  w->max_batch = max_batch;
  w->pool = pool;
  w->n_threads = threadpool_size(pool);
  if (w->n_threads == 0) w->n_threads = 1;
  size_t mi = hp->n_embd;
  size_t qd = (size_t)hp->n_head * hp->head_dim_k, od = (size_t)hp->n_head * hp->head_dim_v;
  if (qd > mi) mi = qd;
  if (od > mi) mi = od;
  if (hp->n_ff > mi) mi = hp->n_ff;
  w->max_in = mi;
  size_t B = max_batch;
  /* Every product below is bounded by MODEL_MAX_* and MODEL_MAX_BATCH, far from overflowing. */
  w->x = malloc(B * hp->n_embd * sizeof(float));
  w->xb = malloc(B * mi * sizeof(float));
  w->xr = malloc(B * mi * sizeof(float));
  w->q = malloc(B * qd * sizeof(float));
  w->k = malloc(B * hp->n_head_kv * hp->head_dim_k * sizeof(float));
  w->v = malloc(B * hp->n_head_kv * hp->head_dim_v * sizeof(float));
  w->hb = malloc(B * hp->n_ff * sizeof(float));
  w->hb2 = malloc(B * hp->n_ff * sizeof(float));
  w->o = malloc(B * hp->n_embd * sizeof(float));
  w->pos = malloc(B * sizeof(*w->pos));
  w->kvs = malloc(B * sizeof(*w->kvs));
  w->want = calloc(B, 1);
  if (!w->x || !w->xb || !w->xr || !w->q || !w->k || !w->v || !w->hb || !w->hb2 || !w->o || !w->pos || !w->kvs ||
      !w->want) {
    model_work_free(w);
    return err_set(e, ERR_NOMEM, "model: out of memory for a batch of %u tokens", max_batch);
  }
  *out = w;
  return 0;
}

void model_work_free(struct model_work *w) {
  if (!w) return;
  free(w->x);
  free(w->xb);
  free(w->xr);
  free(w->q);
  free(w->k);
  free(w->v);
  free(w->hb);
  free(w->hb2);
  free(w->o);
  free(w->pos);
  free(w->kvs);
  free(w->want);
  free(w->scores);
  free(w);
}

uint32_t model_work_max_batch(const struct model_work *w) { return w->max_batch; }

/* y[t] = W . x[t] for n_tok tokens; x rows are x_stride apart, y rows y_stride apart.
 * `prepared` says whether w->xr already holds x prepared for W's type (shared by q/k/v).
 * All the tokens of a step go through one product, so each weight row is read once per step
 * whatever the number of sequences in the batch. */
static void prepare(struct model_work *w, const struct ops_mat *W, const float *x, size_t x_stride, uint32_t n_tok) {
  size_t as = ops_act_size(W->type, W->n_in);
  for (uint32_t t = 0; t < n_tok; t++) ops_act_prepare(W->type, x + t * x_stride, (uint8_t *)w->xr + t * as, W->n_in);
}

static void matmul(struct model_work *w, const struct ops_mat *W, const float *x, size_t x_stride, uint32_t n_tok,
                   float *y, size_t y_stride, int prepared) {
  if (!prepared) prepare(w, W, x, x_stride, n_tok);
  ops_matmul(w->pool, W, w->xr, n_tok, y, y_stride);
}

/* Causal attention of one layer, each token against its own sequence's cache up to its
 * position; (token, head) pairs are shared among the pool's threads. */
struct attn_job {
  const struct model *m;
  struct model_work *w;
  struct kv_cache *const *kv;
  uint32_t layer, n;
};

static void attn_share(void *arg, uint32_t ith, uint32_t nth) {
  struct attn_job *j = arg;
  const struct model_hparams *hp = &j->m->hp;
  struct model_work *w = j->w;
  uint32_t hdk = hp->head_dim_k, hdv = hp->head_dim_v, group = hp->n_head / hp->n_head_kv;
  size_t qd = (size_t)hp->n_head * hdk, mi = w->max_in;
  float kq_scale = 1.0f / sqrtf((float)hdk);
  float *scores = w->scores + (size_t)ith * w->scores_cap;
  uint64_t total = (uint64_t)j->n * hp->n_head;
  uint64_t i0 = total * ith / nth, i1 = total * (ith + 1) / nth;
  for (uint64_t i = i0; i < i1; i++) {
    uint32_t t = (uint32_t)(i / hp->n_head), h = (uint32_t)(i % hp->n_head);
    const struct kv_cache *kv = j->kv[t];
    uint32_t n_kv = w->pos[t] + 1, kh = h / group;
    const float *q = w->q + t * qd + (size_t)h * hdk;
    /* Scores and the weighted sum of V on the active kernel path (float vectors on SIMD
     * paths, as llama.cpp's CPU backend sums them; the scalar path sums in double). */
    for (uint32_t p = 0; p < n_kv; p++)
      scores[p] = ops_dot_f32(q, kv_k(kv, j->layer, p) + (size_t)kh * hdk, hdk) * kq_scale;
    ops_softmax(scores, n_kv);
    float *o = w->xb + t * mi + (size_t)h * hdv;
    memset(o, 0, hdv * sizeof(float));
    for (uint32_t p = 0; p < n_kv; p++) ops_axpy_f32(o, scores[p], kv_v(kv, j->layer, p) + (size_t)kh * hdv, hdv);
  }
}

static void add_bias(float *y, const float *b, size_t n) {
  if (b)
    for (size_t i = 0; i < n; i++) y[i] += b[i];
}

/* The per-token work between two products (norms, SwiGLU, the next product's activation
 * preparation), shared among the pool's threads by tokens when a step has several: with 8
 * sequences it was ~1.5 ms of a ~20 ms step at 2 threads, done by the calling thread alone. */
enum tok_kind {
  TOK_ATTN_IN, /* rmsnorm(x) -> xb, prepared for wq */
  TOK_QKV_OUT, /* biases, q/k norms, RoPE of q and k; k and v into the token's cache */
  TOK_WO_IN,   /* xb prepared for wo */
  TOK_FFN_IN,  /* x += o, rmsnorm(x) -> xb, prepared for gate */
  TOK_DOWN_IN  /* swiglu(hb, hb2) -> hb, prepared for down */
};

struct tok_job {
  const struct model *m;
  struct model_work *w;
  const struct model_layer *L;
  enum tok_kind kind;
  uint32_t n;
  struct kv_cache *const *kv; /* TOK_QKV_OUT: each token's cache, and the layer */
  uint32_t layer;
};

static void tok_share(void *arg, uint32_t ith, uint32_t nth) {
  const struct tok_job *j = arg;
  const struct model_hparams *hp = &j->m->hp;
  struct model_work *w = j->w;
  const struct model_layer *L = j->L;
  size_t d = hp->n_embd, mi = w->max_in, ff = hp->n_ff;
  for (uint32_t t = (uint32_t)((uint64_t)j->n * ith / nth); t < (uint64_t)j->n * (ith + 1) / nth; t++) {
    float *x = w->x + t * d, *xb = w->xb + t * mi;
    const struct ops_mat *W;
    const float *in = xb;
    if (j->kind == TOK_QKV_OUT) {
      uint32_t hdk = hp->head_dim_k;
      size_t qd = (size_t)hp->n_head * hdk, kd = (size_t)hp->n_head_kv * hdk, vd = (size_t)hp->n_head_kv * hp->head_dim_v;
      float *q = w->q + t * qd, *k = w->k + t * kd, *v = w->v + t * vd;
      add_bias(q, L->bq, qd);
      add_bias(k, L->bk, kd);
      add_bias(v, L->bv, vd);
      if (L->q_norm)
        for (uint32_t h = 0; h < hp->n_head; h++) ops_rmsnorm(q + h * hdk, q + h * hdk, L->q_norm, hdk, hp->rms_eps);
      if (L->k_norm)
        for (uint32_t h = 0; h < hp->n_head_kv; h++) ops_rmsnorm(k + h * hdk, k + h * hdk, L->k_norm, hdk, hp->rms_eps);
      ops_rope_apply(&hp->rope, q, hp->n_head, hdk, w->pos[t]);
      ops_rope_apply(&hp->rope, k, hp->n_head_kv, hdk, w->pos[t]);
      memcpy(kv_k(j->kv[t], j->layer, w->pos[t]), k, kd * sizeof(float));
      memcpy(kv_v(j->kv[t], j->layer, w->pos[t]), v, vd * sizeof(float));
      continue;
    }
    switch (j->kind) {
    case TOK_ATTN_IN:
      ops_rmsnorm(xb, x, L->attn_norm, d, hp->rms_eps);
      W = &L->wq;
      break;
    case TOK_WO_IN: W = &L->wo; break;
    case TOK_FFN_IN: {
      const float *o = w->o + t * d;
      for (size_t i = 0; i < d; i++) x[i] += o[i];
      ops_rmsnorm(xb, x, L->ffn_norm, d, hp->rms_eps);
      W = &L->gate;
      break;
    }
    default:
      ops_swiglu(w->hb + t * ff, w->hb2 + t * ff, ff);
      in = w->hb + t * ff;
      W = &L->down;
      break;
    }
    size_t as = ops_act_size(W->type, W->n_in);
    ops_act_prepare(W->type, in, (uint8_t *)w->xr + t * as, W->n_in);
  }
}

static void tok_run(const struct model *m, struct model_work *w, const struct model_layer *L, enum tok_kind kind,
                    uint32_t n, struct kv_cache *const *kv, uint32_t layer) {
  struct tok_job j = {m, w, L, kind, n, kv, layer};
  if (n > 1) threadpool_run(w->pool, tok_share, &j);
  else tok_share(&j, 0, 1);
}

/* Runs b->n <= max_batch tokens whose positions are in w->pos and caches in b->kv. */
static void forward_batch(const struct model *m, struct model_work *w, const struct model_batch *b, float *logits) {
  const struct model_hparams *hp = &m->hp;
  uint32_t n = b->n, d = hp->n_embd;
  uint32_t hdk = hp->head_dim_k, hdv = hp->head_dim_v;
  size_t qd = (size_t)hp->n_head * hdk, kd = (size_t)hp->n_head_kv * hdk, vd = (size_t)hp->n_head_kv * hdv;
  size_t ff = hp->n_ff, mi = w->max_in;

  for (uint32_t t = 0; t < n; t++) ops_mat_row(&m->tok_embd, (uint32_t)b->tokens[t], w->x + (size_t)t * d);

  for (uint32_t l = 0; l < hp->n_layer; l++) {
    const struct model_layer *L = &m->layers[l];
    if (L->wk.type == L->wq.type && L->wv.type == L->wq.type) {
      /* One activation, one barrier for the three products. */
      const struct ops_mat *W[3] = {&L->wq, &L->wk, &L->wv};
      float *Y[3] = {w->q, w->k, w->v};
      size_t S[3] = {qd, kd, vd};
      tok_run(m, w, L, TOK_ATTN_IN, n, NULL, 0);
      ops_matmul_multi(w->pool, 3, W, w->xr, n, Y, S);
    } else {
      for (uint32_t t = 0; t < n; t++) ops_rmsnorm(w->xb + t * mi, w->x + (size_t)t * d, L->attn_norm, d, hp->rms_eps);
      matmul(w, &L->wq, w->xb, mi, n, w->q, qd, 0);
      matmul(w, &L->wk, w->xb, mi, n, w->k, kd, L->wk.type == L->wq.type);
      matmul(w, &L->wv, w->xb, mi, n, w->v, vd, L->wv.type == L->wk.type);
    }
    tok_run(m, w, L, TOK_QKV_OUT, n, b->kv, l);
    /* Every token's key and value are in place, so a prompt chunk sees itself causally. */
    struct attn_job aj = {m, w, b->kv, l, n};
    threadpool_run(w->pool, attn_share, &aj);
    tok_run(m, w, L, TOK_WO_IN, n, NULL, 0);
    ops_matmul(w->pool, &L->wo, w->xr, n, w->o, d);
    if (L->up.type == L->gate.type) {
      const struct ops_mat *W[2] = {&L->gate, &L->up};
      float *Y[2] = {w->hb, w->hb2};
      size_t S[2] = {ff, ff};
      tok_run(m, w, L, TOK_FFN_IN, n, NULL, 0);
      ops_matmul_multi(w->pool, 2, W, w->xr, n, Y, S);
    } else {
      for (uint32_t t = 0; t < n; t++) {
        float *x = w->x + (size_t)t * d;
        const float *o = w->o + (size_t)t * d;
        for (uint32_t i = 0; i < d; i++) x[i] += o[i];
      }
      for (uint32_t t = 0; t < n; t++) ops_rmsnorm(w->xb + t * mi, w->x + (size_t)t * d, L->ffn_norm, d, hp->rms_eps);
      matmul(w, &L->gate, w->xb, mi, n, w->hb, ff, 0);
      matmul(w, &L->up, w->xb, mi, n, w->hb2, ff, 0);
    }
    tok_run(m, w, L, TOK_DOWN_IN, n, NULL, 0);
    ops_matmul(w->pool, &L->down, w->xr, n, w->o, d);
    for (uint32_t t = 0; t < n; t++) {
      float *x = w->x + (size_t)t * d;
      const float *o = w->o + (size_t)t * d;
      for (uint32_t i = 0; i < d; i++) x[i] += o[i];
    }
  }
  if (logits) {
    uint32_t n_out = 0;
    for (uint32_t t = 0; t < n; t++)
      if (b->want_logits[t])
        ops_rmsnorm(w->xb + (size_t)n_out++ * mi, w->x + (size_t)t * d, m->output_norm, d, hp->rms_eps);
    if (n_out) matmul(w, &m->output, w->xb, mi, n_out, logits, hp->n_vocab, 0);
  }
}

static int check_kv(const struct model *m, const struct kv_cache *kv, struct err *e) {
  if (kv->n_layer != m->hp.n_layer || kv->k_dim != m->hp.n_head_kv * m->hp.head_dim_k ||
      kv->v_dim != m->hp.n_head_kv * m->hp.head_dim_v)
    return err_set(e, ERR_INVALID, "model: the KV cache was made for another model");
  return 0;
}

static int ensure_scores(struct model_work *w, uint32_t n_ctx, struct err *e) {
  if (w->scores_cap >= n_ctx) return 0;
  float *s = realloc(w->scores, (size_t)n_ctx * w->n_threads * sizeof(float));
  if (!s) return err_set(e, ERR_NOMEM, "model: out of memory for %u attention scores", n_ctx);
  w->scores = s;
  w->scores_cap = n_ctx;
  return 0;
}

int model_forward_batch(const struct model *m, struct model_work *w, const struct model_batch *b, float *logits,
                        struct err *e) {
  if (b->n == 0) return err_set(e, ERR_INVALID, "model: nothing to evaluate");
  if (b->n > w->max_batch)
    return err_set(e, ERR_LIMIT, "model: a batch of %u tokens is larger than the work's %u", b->n, w->max_batch);
  uint32_t max_ctx = 0;
  for (uint32_t t = 0; t < b->n; t++) {
    int rc = check_kv(m, b->kv[t], e);
    if (rc) return rc;
    if (b->tokens[t] < 0 || (uint32_t)b->tokens[t] >= m->hp.n_vocab)
      return err_set(e, ERR_INVALID, "model: token id %d is outside the vocabulary (0..%u)", b->tokens[t],
                     m->hp.n_vocab - 1);
    if (b->kv[t]->n_ctx > max_ctx) max_ctx = b->kv[t]->n_ctx;
  }
  int rc = ensure_scores(w, max_ctx, e);
  if (rc) return rc;
  /* Positions: each token goes after what its cache holds and the batch's earlier tokens of
   * the same sequence. n_pos is advanced here and rolled back if a cache would overflow. */
  int full = 0;
  for (uint32_t t = 0; t < b->n; t++) {
    struct kv_cache *kv = b->kv[t];
    w->pos[t] = kv->n_pos;
    if (kv->n_pos >= kv->n_ctx) full = 1;
    else kv->n_pos++;
  }
  if (full) {
    for (uint32_t t = b->n; t-- > 0;)
      if (w->pos[t] < b->kv[t]->n_ctx) b->kv[t]->n_pos = w->pos[t];
    return err_set(e, ERR_LIMIT, "model: the batch does not fit a sequence's context");
  }
  forward_batch(m, w, b, logits);
  return 0;
}

int model_forward(const struct model *m, struct model_work *w, struct kv_cache *kv, const int32_t *tokens, uint32_t n,
                  float *logits, struct err *e) {
  if (n == 0) return err_set(e, ERR_INVALID, "model: nothing to evaluate");
  int rc = check_kv(m, kv, e);
  if (rc) return rc;
  if (n > kv->n_ctx - kv->n_pos)
    return err_set(e, ERR_LIMIT, "model: %u more tokens do not fit the context (%u of %u used)", n, kv->n_pos,
                   kv->n_ctx);
  for (uint32_t i = 0; i < n; i++)
    if (tokens[i] < 0 || (uint32_t)tokens[i] >= m->hp.n_vocab)
      return err_set(e, ERR_INVALID, "model: token id %d is outside the vocabulary (0..%u)", tokens[i],
                     m->hp.n_vocab - 1);
  for (uint32_t i = 0; i < w->max_batch; i++) {
    w->kvs[i] = kv;
    w->want[i] = 0;
  }
  for (uint32_t done = 0; done < n;) {
    uint32_t c = n - done < w->max_batch ? n - done : w->max_batch;
    int last = done + c == n;
    w->want[c - 1] = (uint8_t)(last && logits);
    struct model_batch b = {.n = c, .tokens = tokens + done, .kv = w->kvs, .want_logits = w->want};
    rc = model_forward_batch(m, w, &b, last ? logits : NULL, e);
    w->want[c - 1] = 0;
    if (rc != 0) return rc;
    done += c;
  }
  return 0;
}
