/* generate_cmd: `cocoon generate`: run a GGUF model on a prompt and print the continuation. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/generate_cmd.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/util.h"
#include "engine/chat.h"
#include "engine/generate.h"
#include "engine/kv.h"
#include "engine/model.h"
#include "engine/sample.h"
#include "engine/threadpool.h"
#include "engine/tokenizer.h"

#define GEN_MAX_PROMPT_IDS 65536u
#define GEN_DEFAULT_MAX_TOKENS 128u

static void usage(FILE *f) {
  fprintf(f,
          "usage: cocoon generate --model FILE.gguf --prompt-ids \"1,2,3\" [--max-tokens N]\n"
          "         [--temperature T] [--top-k K] [--top-p P] [--min-p P] [--seed S] [--threads N]\n"
          "         [--ctx N] [--ids]\n"
          "Runs the model on the prompt and prints the continuation; greedy when the temperature\n"
          "is 0 (the default). Generation stops at an end-of-generation token or after N tokens\n"
          "(default %u).\n"
          "  --prompt      text, tokenized with the model's tokenizer (BOS added when the model\n"
          "                asks for it; special-token texts become those tokens)\n"
          "  --prompt-ids  token ids separated by commas or spaces (no BOS is added)\n"
          "  --chat        send --prompt as a user message through the model's chat template\n"
          "                (ChatML or Llama-3, as the worker does)\n"
          "  --ids         print the generated token ids, one per line\n"
          "  --threads     threads for the matrix products (default 1)\n"
          "  --ctx         context size (default: prompt + max tokens, at most the model's)\n",
          GEN_DEFAULT_MAX_TOKENS);
}

/* Parses "1,2, 3" into a malloc'd array. */
static int parse_ids(const char *s, int32_t **out, uint32_t *n_out, uint32_t n_vocab) {
  *out = NULL;
  *n_out = 0;
  int32_t *ids = NULL;
  uint32_t n = 0, cap = 0;
  const char *p = s;
  for (;;) {
    while (*p == ',' || *p == ' ' || *p == '\t' || *p == '\n') p++;
    if (!*p) break;
    const char *q = p;
    while (*q && *q != ',' && *q != ' ' && *q != '\t' && *q != '\n') q++;
    char buf[24];
    size_t len = (size_t)(q - p);
    int64_t v;
    if (len >= sizeof(buf)) goto bad;
    memcpy(buf, p, len);
    buf[len] = 0;
    if (util_parse_i64(buf, 0, (int64_t)n_vocab - 1, &v) != 0) {
      fprintf(stderr, "cocoon generate: prompt id '%s' is not a token id (0..%u)\n", buf, n_vocab - 1);
      free(ids);
      return ERR_PARSE;
    }
    if (n == GEN_MAX_PROMPT_IDS) goto bad;
    if (n == cap) {
      cap = cap ? cap * 2 : 64;
      int32_t *t = realloc(ids, cap * sizeof(*ids));
      if (!t) goto bad;
      ids = t;
    }
    ids[n++] = (int32_t)v;
    p = q;
  }
  if (n == 0) {
    fprintf(stderr, "cocoon generate: the prompt has no token ids\n");
    free(ids);
    return ERR_PARSE;
  }
  *out = ids;
  *n_out = n;
  return 0;
bad:
  fprintf(stderr, "cocoon generate: bad or too many prompt ids (at most %u)\n", GEN_MAX_PROMPT_IDS);
  free(ids);
  return ERR_PARSE;
}

struct out_state {
  int ids;
  const struct tok *tok; /* NULL: print ids */
  char *piece;
  FILE *dump;
  float *lp;
  int first;
};

static int on_token(void *arg, int32_t tok, const float *logits, uint32_t n_vocab) {
  struct out_state *o = arg;
  if (o->dump) {
    /* One line per step: the log-probabilities of the whole vocabulary. */
    sample_log_softmax(logits, o->lp, n_vocab);
    for (uint32_t i = 0; i < n_vocab; i++) fprintf(o->dump, i ? " %.7g" : "%.7g", (double)o->lp[i]);
    fputc('\n', o->dump);
  }
  if (o->ids) printf("%" PRId32 "\n", tok);
  else if (o->tok) {
    /* Pieces in order reassemble the UTF-8 text; control tokens (end of turn, ...) are not text. */
    if (tok_type_of(o->tok, tok) != TOK_TYPE_CONTROL) {
      int len = tok_decode_piece(o->tok, tok, o->piece, TOK_MAX_TOKEN_BYTES);
      if (len > 0) fwrite(o->piece, 1, (size_t)(len < (int)TOK_MAX_TOKEN_BYTES ? len : (int)TOK_MAX_TOKEN_BYTES), stdout);
    }
  } else printf(o->first ? "%" PRId32 : " %" PRId32, tok);
  o->first = 0;
  fflush(stdout);
  return 0;
}

static int parse_u32(const char *opt, const char *v, int64_t min, int64_t max, uint32_t *out) {
  int64_t x;
  if (util_parse_i64(v, min, max, &x) != 0) {
    fprintf(stderr, "cocoon generate: %s wants an integer in %" PRId64 "..%" PRId64 ", not '%s'\n", opt, min, max, v);
    return -1;
  }
  *out = (uint32_t)x;
  return 0;
}

static int parse_f32(const char *opt, const char *v, float *out) {
  double x;
  if (util_parse_double(v, &x) != 0) {
    fprintf(stderr, "cocoon generate: %s wants a number, not '%s'\n", opt, v);
    return -1;
  }
  *out = (float)x;
  return 0;
}

int generate_main(int argc, char **argv) {
  const char *model_path = NULL, *prompt_ids = NULL, *prompt = NULL, *dump_path = NULL;
  uint32_t max_tokens = GEN_DEFAULT_MAX_TOKENS, threads = 1, ctx = 0;
  int ids = 0, ignore_eog = 0, chat = 0, rc = 1;
  struct buf rendered; /* the chat-rendered prompt */
  buf_init(&rendered, 0);
  struct sample_params sp;
  sample_params_default(&sp);
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
      usage(stdout);
      return 0;
    }
    if (!strcmp(a, "--ids")) {
      ids = 1;
      continue;
    }
    if (!strcmp(a, "--chat")) {
      chat = 1;
      continue;
    }
    if (!strcmp(a, "--ignore-eos")) { /* hidden: tests compare fixed-length continuations */
      ignore_eog = 1;
      continue;
    }
    if (!v) {
      fprintf(stderr, "cocoon generate: %s needs a value (see --help)\n", a);
      return 2;
    }
    i++;
    int bad = 0;
    if (!strcmp(a, "--model")) model_path = v;
    else if (!strcmp(a, "--prompt-ids")) prompt_ids = v;
    else if (!strcmp(a, "--prompt")) prompt = v;
    else if (!strcmp(a, "--dump-logprobs")) dump_path = v; /* hidden: oracle tests */
    else if (!strcmp(a, "--max-tokens")) bad = parse_u32(a, v, 0, 1 << 20, &max_tokens);
    else if (!strcmp(a, "--threads")) bad = parse_u32(a, v, 1, THREADPOOL_MAX_THREADS, &threads);
    else if (!strcmp(a, "--ctx")) bad = parse_u32(a, v, 1, MODEL_MAX_CTX, &ctx);
    else if (!strcmp(a, "--top-k")) bad = parse_u32(a, v, 0, MODEL_MAX_VOCAB, &sp.top_k);
    else if (!strcmp(a, "--temperature")) bad = parse_f32(a, v, &sp.temperature);
    else if (!strcmp(a, "--top-p")) bad = parse_f32(a, v, &sp.top_p);
    else if (!strcmp(a, "--min-p")) bad = parse_f32(a, v, &sp.min_p);
    else if (!strcmp(a, "--seed")) {
      int64_t s;
      if (util_parse_i64(v, 0, INT64_MAX, &s) != 0) {
        fprintf(stderr, "cocoon generate: bad seed '%s'\n", v);
        return 2;
      }
      sp.seed = (uint64_t)s;
    } else {
      fprintf(stderr, "cocoon generate: unknown option '%s' (see --help)\n", a);
      return 2;
    }
    if (bad) return 2;
  }
  if (!model_path) {
    fprintf(stderr, "cocoon generate: --model is required (see --help)\n");
    return 2;
  }
  if (chat && !prompt) {
    fprintf(stderr, "cocoon generate: --chat needs --prompt\n");
    return 2;
  }
  if (!prompt == !prompt_ids) {
    fprintf(stderr, "cocoon generate: give one of --prompt and --prompt-ids (see --help)\n");
    return 2;
  }

  struct err e = {0};
  struct model *m = NULL;
  struct threadpool *pool = NULL;
  struct model_work *w = NULL;
  struct kv_cache *kv = NULL;
  struct sampler *s = NULL;
  int32_t *prompt_tok = NULL;
  uint32_t n_prompt = 0;
  struct tok *tk = NULL;
  struct out_state o = {ids, NULL, NULL, NULL, NULL, 1};

  if (model_load(model_path, &m, &e) != 0) {
    fprintf(stderr, "cocoon generate: %s\n", e.msg);
    goto out;
  }
  if (prompt || !ids) {
    /* Text in or out needs the tokenizer; ids in and out work without one. */
    if (tok_load(m->g, &tk, &e) != 0) {
      if (prompt) {
        fprintf(stderr, "cocoon generate: %s: %s\n", model_path, e.msg);
        goto out;
      }
      tk = NULL;
    }
    o.tok = tk;
    if (tk && !(o.piece = malloc(TOK_MAX_TOKEN_BYTES))) {
      fprintf(stderr, "cocoon generate: out of memory\n");
      goto out;
    }
  }
  if (prompt && chat) {
    struct chat_template ct;
    struct chat_msg msg = {"user", 4, prompt, strlen(prompt)};
    if (chat_template_detect(m->g, &ct, &e) != 0 || chat_render(&ct, &msg, 1, -1, &rendered, &e) != 0 ||
        buf_append(&rendered, "", 1) != 0) {
      fprintf(stderr, "cocoon generate: %s\n", e.msg[0] ? e.msg : "out of memory");
      goto out;
    }
    prompt = (const char *)buf_ptr(&rendered);
  }
  if (prompt) {
    size_t len = strlen(prompt), n = 0;
    size_t cap = len + 2 < GEN_MAX_PROMPT_IDS ? len + 2 : GEN_MAX_PROMPT_IDS;
    prompt_tok = malloc(cap * sizeof(*prompt_tok));
    if (!prompt_tok) {
      fprintf(stderr, "cocoon generate: out of memory\n");
      goto out;
    }
    /* A rendered chat prompt carries its own BOS where the template has one. */
    if (tok_encode(tk, prompt, len, chat ? 0 : tok_add_bos_default(tk), prompt_tok, cap, &n, &e) != 0) {
      fprintf(stderr, "cocoon generate: %s\n", e.msg);
      goto out;
    }
    if (n == 0) {
      fprintf(stderr, "cocoon generate: the prompt is empty\n");
      rc = 2;
      goto out;
    }
    n_prompt = (uint32_t)n;
  } else if (parse_ids(prompt_ids, &prompt_tok, &n_prompt, m->hp.n_vocab) != 0) {
    rc = 2;
    goto out;
  }
  if (ctx == 0) {
    uint64_t want = (uint64_t)n_prompt + max_tokens;
    ctx = (uint32_t)(want < m->hp.n_ctx_train ? want : m->hp.n_ctx_train);
  }
  if (n_prompt > ctx) {
    fprintf(stderr, "cocoon generate: the prompt (%u tokens) is longer than the context (%u)\n", n_prompt, ctx);
    goto out;
  }
  if (threadpool_new(threads, &pool, &e) != 0 || model_work_new(m, 64, pool, &w, &e) != 0 ||
      model_kv_new(m, ctx, &kv, &e) != 0 || sampler_new(&sp, m->hp.n_vocab, &s, &e) != 0) {
    fprintf(stderr, "cocoon generate: %s\n", e.msg);
    goto out;
  }
  if (dump_path) {
    o.dump = fopen(dump_path, "w");
    o.lp = malloc((size_t)m->hp.n_vocab * sizeof(float));
    if (!o.dump || !o.lp) {
      fprintf(stderr, "cocoon generate: cannot write %s\n", dump_path);
      goto out;
    }
  }
  struct generate_params gp = {.max_tokens = max_tokens, .ignore_eog = ignore_eog};
  struct generate_result res;
  if (generate_run(m, w, kv, s, prompt_tok, n_prompt, &gp, on_token, &o, &res, &e) != 0) {
    fprintf(stderr, "cocoon generate: %s\n", e.msg);
    goto out;
  }
  if (!ids && (!o.first || tk)) printf("\n");
  rc = 0;
out:
  if (o.dump && fclose(o.dump) != 0 && rc == 0) {
    fprintf(stderr, "cocoon generate: cannot write %s\n", dump_path);
    rc = 1;
  }
  buf_free(&rendered);
  free(o.lp);
  free(o.piece);
  tok_free(tk);
  free(prompt_tok);
  sampler_free(s);
  kv_free(kv);
  model_work_free(w);
  threadpool_free(pool);
  model_free(m);
  return rc;
}
