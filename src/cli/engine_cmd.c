/* engine_cmd: `cocoon model-info` (describe a GGUF file) and `cocoon gen-model` (write a test model). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/engine_cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/util.h"
#include "engine/gguf.h"
#include "engine/ops.h"
#include "engine/quant.h"
#include "engine/testmodel.h"

/* Prints a string from the file with control and non-ASCII bytes escaped, at most max bytes. */
static void print_safe(struct gguf_str s, size_t max) {
  size_t n = s.len < max ? (size_t)s.len : max;
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s.p[i];
    if (ch < 0x20 || ch >= 0x7f || ch == '\\') printf("\\x%02x", ch);
    else putchar(ch);
  }
  if (s.len > max) printf("...");
}

static void print_u32(const struct gguf *g, const char *arch, const char *suffix) {
  char key[160];
  uint32_t v;
  snprintf(key, sizeof(key), "%s.%s", arch, suffix);
  printf("  %-36s ", suffix);
  if (gguf_get_u32(g, key, &v, NULL) == 0) printf("%" PRIu32 "\n", v);
  else if (gguf_find_kv(g, key)) printf("(not a u32: %s)\n", gguf_vtype_name(gguf_find_kv(g, key)->type));
  else printf("-\n");
}

static void print_f32(const struct gguf *g, const char *arch, const char *suffix) {
  char key[160];
  float v;
  snprintf(key, sizeof(key), "%s.%s", arch, suffix);
  printf("  %-36s ", suffix);
  if (gguf_get_f32(g, key, &v, NULL) == 0) printf("%g\n", (double)v);
  else printf("-\n");
}

static void print_tokenizer(const struct gguf *g) {
  struct gguf_str model = {"", 0}, pre = {"", 0};
  const struct gguf_kv *toks = NULL, *merges = NULL;
  uint32_t id;
  printf("tokenizer:\n  model                                ");
  if (gguf_get_str(g, "tokenizer.ggml.model", &model, NULL) == 0) print_safe(model, 64);
  else printf("-");
  if (gguf_get_str(g, "tokenizer.ggml.pre", &pre, NULL) == 0) {
    printf(" (pre ");
    print_safe(pre, 64);
    printf(")");
  }
  printf("\n  vocab size                           ");
  if (gguf_get_arr(g, "tokenizer.ggml.tokens", GGUF_STRING, &toks, NULL) == 0) printf("%" PRIu64 "\n", toks->arr_n);
  else printf("-\n");
  if (gguf_get_arr(g, "tokenizer.ggml.merges", GGUF_STRING, &merges, NULL) == 0)
    printf("  merges                               %" PRIu64 "\n", merges->arr_n);
  static const char *const ids[] = {"bos", "eos", "unknown", "padding"};
  for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
    char key[64];
    snprintf(key, sizeof(key), "tokenizer.ggml.%s_token_id", ids[i]);
    if (gguf_get_u32(g, key, &id, NULL) != 0) continue;
    printf("  %-36s %" PRIu32, ids[i], id);
    if (toks && id < toks->arr_n) {
      printf(" \"");
      print_safe(gguf_arr_str(toks, id), 32);
      printf("\"");
    }
    printf("\n");
  }
  const struct gguf_kv *tmpl = gguf_find_kv(g, "tokenizer.chat_template");
  if (tmpl && tmpl->type == GGUF_STRING)
    printf("  chat template                        %" PRIu64 " bytes\n", tmpl->str.len);
}

static int model_info(const char *path) {
  struct gguf *g = NULL;
  struct err e = {0};
  if (gguf_open(path, &g, &e) != 0) {
    fprintf(stderr, "cocoon model-info: %s\n", e.msg);
    return 1;
  }
  printf("file: %s\n", path);
  printf("format: GGUF v%" PRIu32 ", %zu bytes, %zu metadata keys, alignment %" PRIu32 ", data at %" PRIu64 "\n",
         gguf_version(g), gguf_file_size(g), gguf_kv_count(g), gguf_alignment(g), gguf_data_offset(g));
  struct gguf_str arch = {"", 0}, name;
  char archz[64] = "";
  if (gguf_get_str(g, "general.architecture", &arch, NULL) == 0 && arch.len < sizeof(archz)) {
    memcpy(archz, arch.p, (size_t)arch.len);
    archz[arch.len] = 0;
  }
  printf("architecture: ");
  print_safe(arch, 64);
  if (!arch.len) printf("-");
  int known = !strcmp(archz, "llama") || !strcmp(archz, "qwen2") || !strcmp(archz, "qwen3");
  printf("%s\n", known ? "" : " (not supported by the built-in engine)");
  if (gguf_get_str(g, "general.name", &name, NULL) == 0) {
    printf("name: ");
    print_safe(name, 128);
    printf("\n");
  }
  if (archz[0] && strlen(archz) == arch.len) {
    printf("hyperparameters:\n");
    static const char *const u32s[] = {"context_length",
                                       "embedding_length",
                                       "block_count",
                                       "feed_forward_length",
                                       "attention.head_count",
                                       "attention.head_count_kv",
                                       "attention.key_length",
                                       "attention.value_length",
                                       "rope.dimension_count"};
    for (size_t i = 0; i < sizeof(u32s) / sizeof(u32s[0]); i++) print_u32(g, archz, u32s[i]);
    print_f32(g, archz, "rope.freq_base");
    print_f32(g, archz, "attention.layer_norm_rms_epsilon");
  }

  uint64_t count[QUANT_TYPE_END] = {0}, bytes[QUANT_TYPE_END] = {0}, params = 0, total = 0;
  size_t nt = gguf_tensor_count(g);
  for (size_t i = 0; i < nt; i++) {
    const struct gguf_tensor *t = gguf_tensor_at(g, i);
    count[t->type]++;
    bytes[t->type] += t->nbytes;
    params += t->n_elems;
    total += t->nbytes;
  }
  printf("tensors: %zu, %" PRIu64 " parameters, %" PRIu64 " bytes\n", nt, params, total);
  for (uint32_t ty = 0; ty < QUANT_TYPE_END; ty++) {
    if (!count[ty]) continue;
    const struct quant_type_info *ti = quant_type_info(ty);
    printf("  %-8s %6" PRIu64 " tensors %14" PRIu64 " bytes%s\n", ti->name, count[ty], bytes[ty],
           ti->supported ? "" : " (unsupported by the built-in engine)");
  }
  printf("output: %s\n", gguf_find_tensor(g, "output.weight") ? "separate output.weight" : "tied to token_embd");
  print_tokenizer(g);
  printf("kernels: %s (this CPU; COCOON_ENGINE_KERNELS=scalar|avx2|avx512 forces one)\n", ops_kernels_name());
  gguf_free(g);
  return 0;
}

int model_info_main(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: cocoon model-info FILE.gguf\n"
             "Validates a GGUF file and prints its architecture, shapes, tensor types and tokenizer.\n"
             "Exits 1 with the loader's error when the file is damaged.\n");
      return 0;
    }
    if (argv[i][0] == '-' || path) {
      fprintf(stderr, "cocoon model-info: unexpected argument '%s' (see --help)\n", argv[i]);
      return 2;
    }
    path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "cocoon model-info: a GGUF file is required (see --help)\n");
    return 2;
  }
  return model_info(path);
}

int gen_model_main(int argc, char **argv) {
  struct testmodel_opts o = {.arch = NULL, .preset = "tiny", .type = QUANT_F32, .seed = 1, .tied = -1};
  const char *out = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      printf("usage: cocoon gen-model --out FILE.gguf [--arch llama|qwen2|qwen3] [--type TYPE]\n"
             "         [--preset micro|tiny|qwen2.5-0.5b|qwen3-0.6b] [--seed N] [--tokenizer gpt2|llama]\n"
             "         [--tied|--untied]\n"
             "Writes a deterministic synthetic model with random weights: the small presets for tests,\n"
             "the others with the real shapes of Qwen2.5-0.5B and Qwen3-0.6B for benchmarks.\n"
             "  --type      f32 (default), f16, bf16, q8_0, q4_0, q4_k, q6_k (matrices; norms stay f32)\n"
             "  --seed      weights and vocabulary seed (default 1); a seed gives the same float\n"
             "              weights for every type\n"
             "  --tokenizer gpt2: byte-level BPE with merges (default); llama: SentencePiece-style\n");
      return 0;
    }
    if (!strcmp(a, "--tied")) {
      o.tied = 1;
      continue;
    }
    if (!strcmp(a, "--untied")) {
      o.tied = 0;
      continue;
    }
    if (!v) {
      fprintf(stderr, "cocoon gen-model: %s needs a value (see --help)\n", a);
      return 2;
    }
    i++;
    if (!strcmp(a, "--out")) out = v;
    else if (!strcmp(a, "--arch")) o.arch = v;
    else if (!strcmp(a, "--preset")) o.preset = v;
    else if (!strcmp(a, "--tokenizer")) o.tokenizer = v;
    else if (!strcmp(a, "--type")) {
      int t = quant_type_from_name(v);
      if (t < 0) {
        fprintf(stderr, "cocoon gen-model: unknown type '%s'\n", v);
        return 2;
      }
      o.type = (uint32_t)t;
    } else if (!strcmp(a, "--seed")) {
      int64_t s;
      if (util_parse_i64(v, 0, INT64_MAX, &s) != 0) {
        fprintf(stderr, "cocoon gen-model: bad seed '%s'\n", v);
        return 2;
      }
      o.seed = (uint64_t)s;
    } else {
      fprintf(stderr, "cocoon gen-model: unknown option '%s' (see --help)\n", a);
      return 2;
    }
  }
  if (!out) {
    fprintf(stderr, "cocoon gen-model: --out is required (see --help)\n");
    return 2;
  }
  struct err e = {0};
  struct testmodel_shape s;
  if (testmodel_shape(&o, &s, &e) != 0) {
    fprintf(stderr, "cocoon gen-model: %s\n", e.msg);
    return 2;
  }
  if (testmodel_write_file(&o, out, &e) != 0) {
    fprintf(stderr, "cocoon gen-model: %s\n", e.msg);
    return 1;
  }
  printf("wrote %s: %s, %s, vocab %" PRIu32 ", dim %" PRIu32 ", %" PRIu32 " layers, %s output\n", out, s.arch,
         quant_type_info(o.type)->name, s.n_vocab, s.n_embd, s.n_layer, s.tied ? "tied" : "separate");
  return 0;
}
