/* tokenize_cmd: `cocoon tokenize`: runs a GGUF file's tokenizer over stdin (plain text or JSON lines). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/tokenize_cmd.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine/gguf.h"
#include "engine/tokenizer.h"

static void usage(void) {
  fprintf(stderr,
          "usage: cocoon tokenize --model F.gguf [--no-special] [--jsonl]\n"
          "  Reads UTF-8 text from stdin and prints its token ids, one per line (no BOS is added).\n"
          "  Special tokens written in the text (<|im_start|>, ...) become those tokens unless\n"
          "  --no-special is given (user-defined tokens are matched either way, as llama.cpp does).\n"
          "  --jsonl: every stdin line is a JSON string; prints one line of space-separated ids per line.\n");
}

/* Reads all of stdin (at most TOK_MAX_INPUT bytes). */
static int read_stdin(char **out, size_t *len) {
  size_t cap = 65536, n = 0;
  char *buf = malloc(cap);
  if (!buf) return -1;
  for (;;) {
    if (n == cap) {
      if (cap >= TOK_MAX_INPUT) {
        free(buf);
        fprintf(stderr, "tokenize: input larger than %u bytes\n", TOK_MAX_INPUT);
        return -1;
      }
      char *nb = realloc(buf, cap * 2);
      if (!nb) {
        free(buf);
        return -1;
      }
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n, stdin);
    n += r;
    if (r == 0) break;
  }
  if (ferror(stdin)) {
    free(buf);
    fprintf(stderr, "tokenize: cannot read stdin\n");
    return -1;
  }
  *out = buf;
  *len = n;
  return 0;
}

/* Tokenizes text into a growing array (*ids, *cap); returns the count or -1. */
static long encode(const struct tok *t, const char *text, size_t len, unsigned flags, int32_t **ids, size_t *cap) {
  struct err e = {0};
  size_t n = 0;
  int rc = tok_encode_ex(t, text, len, flags, *ids, *cap, &n, &e);
  if (rc == ERR_LIMIT && n > *cap) {
    int32_t *ni = realloc(*ids, n * sizeof(**ids));
    if (!ni) return -1;
    *ids = ni;
    *cap = n;
    rc = tok_encode_ex(t, text, len, flags, *ids, *cap, &n, &e);
  }
  if (rc) {
    fprintf(stderr, "tokenize: %s\n", e.msg);
    return -1;
  }
  return (long)n;
}

int tokenize_main(int argc, char **argv) {
  const char *model = NULL;
  int jsonl = 0;
  unsigned flags = TOK_ENC_PARSE_SPECIAL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--model") == 0 && i + 1 < argc) model = argv[++i];
    else if (strcmp(argv[i], "--no-special") == 0) flags &= ~TOK_ENC_PARSE_SPECIAL;
    else if (strcmp(argv[i], "--jsonl") == 0) jsonl = 1;
    else {
      usage();
      return 2;
    }
  }
  if (!model) {
    usage();
    return 2;
  }
  struct err e = {0};
  struct gguf *g = NULL;
  struct tok *t = NULL;
  char *in = NULL;
  size_t in_len = 0, cap = 1024;
  int32_t *ids = malloc(cap * sizeof(*ids));
  int status = 1;
  if (!ids) goto out;
  if (gguf_open(model, &g, &e) || tok_load(g, &t, &e)) {
    fprintf(stderr, "tokenize: %s: %s\n", model, e.msg);
    goto out;
  }
  if (read_stdin(&in, &in_len)) goto out;
  if (!jsonl) {
    long n = encode(t, in, in_len, flags, &ids, &cap);
    if (n < 0) goto out;
    for (long i = 0; i < n; i++) printf("%" PRId32 "\n", ids[i]);
  } else {
    size_t line_no = 0;
    for (size_t pos = 0; pos < in_len;) {
      const char *nl = memchr(in + pos, '\n', in_len - pos);
      size_t end = nl ? (size_t)(nl - in) : in_len;
      line_no++;
      json_error_t je;
      json_t *j = json_loadb(in + pos, end - pos, JSON_DECODE_ANY | JSON_ALLOW_NUL, &je);
      pos = end + 1;
      if (!j || !json_is_string(j)) {
        json_decref(j);
        fprintf(stderr, "tokenize: stdin line %zu is not a JSON string\n", line_no);
        goto out;
      }
      long n = encode(t, json_string_value(j), json_string_length(j), flags, &ids, &cap);
      json_decref(j);
      if (n < 0) goto out;
      for (long i = 0; i < n; i++) printf(i ? " %" PRId32 : "%" PRId32, ids[i]);
      putchar('\n');
    }
  }
  status = fflush(stdout) == 0 ? 0 : 1;
out:
  free(in);
  free(ids);
  tok_free(t);
  gguf_free(g);
  return status;
}
