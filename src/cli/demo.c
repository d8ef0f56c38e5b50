/* demo: starts a local network (backend, proxy, worker, client) and sends one real request. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/demo.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "engine/quant.h"
#include "engine/testmodel.h"

#define DEMO_MAX_CHILDREN 4
#define DEMO_START_TIMEOUT_MS 15000

struct demo {
  char dir[PATH_MAX];
  char self[PATH_MAX];
  char backend_bin[PATH_MAX];
  pid_t pids[DEMO_MAX_CHILDREN];
  const char *names[DEMO_MAX_CHILDREN];
  int n;
  char backend_url[256];
  char worker_addr[256];
  char client_addr[256];
  char client_url[256];
  char proxy_url[256];
  /* The model: the built-in engine on model_path (generated unless the user named one), or
   * the test backend when model_path is empty. */
  char model_path[PATH_MAX];
  int generated;
  char model[257]; /* the name the client lists */
};

static volatile sig_atomic_t g_stop;
static void on_signal(int sig) { g_stop = sig; }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

/* Starts argv in the background with stderr to DIR/name.log; stdout to a pipe if out_fd. */
static int spawn(struct demo *d, const char *name, char *const argv[], int *out_fd) {
  int p[2] = {-1, -1};
  if (out_fd && pipe(p) != 0) return -1;
  char log[PATH_MAX + 64];
  snprintf(log, sizeof(log), "%s/%s.log", d->dir, name);
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    FILE *f = freopen(log, "w", stderr);
    (void)f;
    if (out_fd) {
      dup2(p[1], 1);
      close(p[0]);
      close(p[1]);
    } else {
      FILE *g = freopen("/dev/null", "w", stdout);
      (void)g;
    }
    execv(argv[0], argv);
    fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
    _exit(127);
  }
  d->pids[d->n] = pid;
  d->names[d->n] = name;
  d->n++;
  if (out_fd) {
    close(p[1]);
    *out_fd = p[0];
  }
  return 0;
}

static void stop_all(struct demo *d) {
  for (int i = d->n - 1; i >= 0; i--) kill(d->pids[i], SIGTERM);
  for (int i = d->n - 1; i >= 0; i--) {
    int st;
    for (int k = 0; k < 50; k++) {
      if (waitpid(d->pids[i], &st, WNOHANG) == d->pids[i]) break;
      if (k == 49) {
        kill(d->pids[i], SIGKILL);
        waitpid(d->pids[i], &st, 0);
      }
      sleep_ms(100);
    }
  }
  d->n = 0;
}

static void show_log(const struct demo *d, const char *name) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/%s.log", d->dir, name);
  FILE *f = fopen(path, "r");
  if (!f) return;
  fprintf(stderr, "---- %s log ----\n", name);
  char line[1024];
  while (fgets(line, sizeof(line), f)) fputs(line, stderr);
  fclose(f);
}

static int child_alive(struct demo *d, int i) {
  int st;
  return waitpid(d->pids[i], &st, WNOHANG) == 0;
}

/* Waits for a ready file and reads `key` from it. */
static int ready_get(struct demo *d, const char *name, const char *key, char *out, size_t outsz) {
  char path[PATH_MAX + 64];
  snprintf(path, sizeof(path), "%s/%s.ready", d->dir, name);
  for (int t = 0; t < DEMO_START_TIMEOUT_MS / 50; t++) {
    FILE *f = fopen(path, "r");
    if (f) {
      char line[512];
      size_t kl = strlen(key);
      while (fgets(line, sizeof(line), f)) {
        if (!strncmp(line, key, kl) && line[kl] == '=') {
          line[strcspn(line, "\r\n")] = 0;
          snprintf(out, outsz, "%s", line + kl + 1);
          fclose(f);
          return 0;
        }
      }
      fclose(f);
    }
    if (!child_alive(d, d->n - 1)) break;
    sleep_ms(50);
  }
  fprintf(stderr, "demo: %s did not start\n", name);
  show_log(d, name);
  return -1;
}

static size_t collect_cb(char *p, size_t sz, size_t n, void *arg) {
  return buf_append(arg, p, sz * n) ? 0 : sz * n;
}

/* Waits for the client to list a model; copies the first id into d->model. */
static int models_ready(struct demo *d) {
  CURL *c = curl_easy_init();
  if (!c) return 0;
  struct buf b;
  buf_init(&b, 1 << 20);
  char url[512];
  snprintf(url, sizeof(url), "%s/v1/models", d->client_url);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
  long code = 0;
  int ok = curl_easy_perform(c) == CURLE_OK && curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code) == CURLE_OK &&
           code == 200 && b.len;
  if (ok) {
    json_error_t je;
    json_t *root = json_loadb((const char *)buf_ptr(&b), b.len, 0, &je);
    const char *id = json_string_value(json_object_get(json_array_get(json_object_get(root, "data"), 0), "id"));
    ok = id != NULL && strlen(id) < sizeof(d->model);
    if (ok) snprintf(d->model, sizeof(d->model), "%s", id);
    json_decref(root);
  }
  curl_easy_cleanup(c);
  buf_free(&b);
  return ok;
}

/* Streams the SSE answer: prints each content delta as it arrives, keeps the usage. */
struct sse_state {
  struct buf line;
  long prompt, completion, cached, reasoning;
  int usage_seen, chunks;
};

static void sse_line(struct sse_state *s, const char *l, size_t n) {
  if (n < 6 || strncmp(l, "data: ", 6) != 0) return;
  l += 6;
  n -= 6;
  if (n == 6 && !strncmp(l, "[DONE]", 6)) return;
  json_error_t je;
  json_t *j = json_loadb(l, n, 0, &je);
  if (!j) return;
  json_t *choices = json_object_get(j, "choices");
  if (json_is_array(choices) && json_array_size(choices) > 0) {
    json_t *delta = json_object_get(json_array_get(choices, 0), "delta");
    const char *content = json_string_value(json_object_get(delta, "content"));
    if (content) {
      /* Model text goes to a terminal: control characters (a random model makes plenty, ESC
       * included) are shown as U+FFFD rather than interpreted; newlines and tabs stay. */
      for (const unsigned char *c = (const unsigned char *)content; *c; c++) {
        if ((*c < 0x20 && *c != '\n' && *c != '\t') || *c == 0x7f) fputs("\xef\xbf\xbd", stdout);
        else putchar(*c);
      }
      fflush(stdout);
      s->chunks++;
    }
  }
  json_t *u = json_object_get(j, "usage");
  if (json_is_object(u)) {
    s->usage_seen = 1;
    s->prompt = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
    s->completion = (long)json_integer_value(json_object_get(u, "completion_tokens"));
    s->cached = (long)json_integer_value(json_object_get(json_object_get(u, "prompt_tokens_details"), "cached_tokens"));
    s->reasoning =
        (long)json_integer_value(json_object_get(json_object_get(u, "completion_tokens_details"), "reasoning_tokens"));
  }
  json_decref(j);
}

static size_t sse_cb(char *p, size_t sz, size_t n, void *arg) {
  struct sse_state *s = arg;
  size_t len = sz * n;
  for (size_t i = 0; i < len; i++) {
    if (p[i] == '\n') {
      size_t ll = s->line.len;
      const char *l = (const char *)buf_ptr(&s->line);
      if (ll && l[ll - 1] == '\r') ll--;
      if (l) sse_line(s, l, ll);
      buf_reset(&s->line);
    } else if (buf_append(&s->line, &p[i], 1)) {
      return 0;
    }
  }
  return len;
}

/* What the proxy's ledger recorded for the request (its /jsonstats billing totals). */
static void show_billing(struct demo *d) {
  CURL *c = curl_easy_init();
  if (!c) return;
  struct buf b;
  buf_init(&b, 1 << 20);
  char url[512];
  snprintf(url, sizeof(url), "%s/jsonstats", d->proxy_url);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 5000L);
  /* The ledger bills when the final part passes the proxy; give it a moment to be committed. */
  json_t *bill = NULL, *root = NULL;
  for (int i = 0; i < 20; i++) {
    buf_reset(&b);
    json_decref(root);
    root = NULL;
    if (curl_easy_perform(c) != CURLE_OK || !b.len) break;
    json_error_t je;
    root = json_loadb((const char *)buf_ptr(&b), b.len, 0, &je);
    bill = json_object_get(root, "billing");
    if (json_integer_value(json_object_get(bill, "committed")) >= 1) break;
    sleep_ms(50);
  }
  if (json_is_object(bill)) {
    printf("charged: client %" JSON_INTEGER_FORMAT " nano-TON, worker earned %" JSON_INTEGER_FORMAT
           " nano-TON, proxy commission %" JSON_INTEGER_FORMAT " nano-TON (price %" JSON_INTEGER_FORMAT
           " and fee %" JSON_INTEGER_FORMAT " nano-TON per token; recorded in the proxy ledger, %" JSON_INTEGER_FORMAT
           " committed)\n",
           json_integer_value(json_object_get(bill, "client_charged")),
           json_integer_value(json_object_get(bill, "worker_earned")),
           json_integer_value(json_object_get(bill, "proxy_commission")),
           json_integer_value(json_object_get(root, "price_per_token")),
           json_integer_value(json_object_get(root, "worker_fee_per_token")),
           json_integer_value(json_object_get(bill, "committed")));
  } else {
    printf("charged: unknown (the proxy's /jsonstats did not answer)\n");
  }
  json_decref(root);
  buf_free(&b);
  curl_easy_cleanup(c);
}

static int send_request(struct demo *d) {
  CURL *c = curl_easy_init();
  if (!c) return -1;
  json_t *req = json_pack("{s:s, s:b, s:i, s:[{s:s, s:s}]}", "model", d->model, "stream", 1, "max_tokens", 64,
                          "messages", "role", "user", "content", "Tell me about the sea.");
  char *body = req ? json_dumps(req, JSON_COMPACT) : NULL;
  json_decref(req);
  if (!body) {
    curl_easy_cleanup(c);
    return -1;
  }
  char url[512];
  snprintf(url, sizeof(url), "%s/v1/chat/completions", d->client_url);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  struct sse_state s;
  memset(&s, 0, sizeof(s));
  buf_init(&s.line, 1 << 20);
  curl_easy_setopt(c, CURLOPT_URL, url);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sse_cb);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 60000L);
  printf("\nPOST %s  (stream=true, model=%s)\n", url, d->model);
  if (d->generated)
    printf("(the model is a tiny generated one with random weights: expect gibberish. For a real answer run\n"
           " MODEL=path/to/model.gguf make demo, e.g. a Qwen2.5/Qwen3 or Llama-3 GGUF; see README.md)\n");
  printf("\nanswer: ");
  fflush(stdout);
  uint64_t t0 = util_mono_us();
  CURLcode cc = curl_easy_perform(c);
  long code = 0;
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
  double ms = (double)(util_mono_us() - t0) / 1000.0;
  printf("\n\n");
  int rc = 0;
  if (cc != CURLE_OK || code != 200) {
    fprintf(stderr, "demo: request failed: HTTP %ld, %s\n", code, curl_easy_strerror(cc));
    rc = -1;
  } else {
    printf("HTTP %ld, %d chunks streamed in %.1f ms\n", code, s.chunks, ms);
    if (s.usage_seen)
      printf("usage: prompt_tokens=%ld (cached %ld), completion_tokens=%ld (reasoning %ld)\n", s.prompt, s.cached,
             s.completion, s.reasoning);
    else
      printf("usage: not reported\n");
    show_billing(d);
  }
  buf_free(&s.line);
  free(body);
  curl_slist_free_all(h);
  curl_easy_cleanup(c);
  return rc;
}

static int find_backend(struct demo *d) {
  ssize_t n = readlink("/proc/self/exe", d->self, sizeof(d->self) - 1);
  if (n <= 0) return -1;
  d->self[n] = 0;
  const char *slash = strrchr(d->self, '/');
  if (!slash) return -1;
  int dl = (int)(slash - d->self);
  if ((size_t)dl + 20 >= sizeof(d->backend_bin)) return -1;
  snprintf(d->backend_bin, sizeof(d->backend_bin), "%.*s/cocoon-testbackend", dl, d->self);
  return access(d->backend_bin, X_OK);
}

int demo_main(int argc, char **argv) {
  int serve = 0, test_backend = 0;
  const char *user_model = NULL;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--serve")) {
      serve = 1;
    } else if (!strcmp(argv[i], "--test-backend")) {
      test_backend = 1;
    } else if (!strcmp(argv[i], "--model") && i + 1 < argc) {
      user_model = argv[++i];
    } else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
      printf("usage: cocoon demo [--model FILE.gguf | --test-backend] [--serve]\n"
             "Starts a proxy, a worker and a client on free loopback ports, sends one streamed chat\n"
             "request through client -> proxy -> worker and prints the answer and the token usage,\n"
             "then stops everything. The worker runs the built-in engine on FILE.gguf, or on a tiny\n"
             "generated model (random weights: its text is gibberish) when no file is named.\n"
             "  --model FILE.gguf  serve this GGUF model (llama, qwen2, qwen3 architectures)\n"
             "  --test-backend     use the scripted OpenAI-compatible test backend instead\n"
             "  --serve            keep the network running until interrupted; the first line printed\n"
             "                     is the client's OpenAI base URL (http://127.0.0.1:PORT/v1)\n");
      return 0;
    } else {
      fprintf(stderr, "cocoon demo: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  struct demo d;
  memset(&d, 0, sizeof(d));
  if (find_backend(&d)) {
    fprintf(stderr, "demo: cannot find cocoon-testbackend next to %s\n", d.self);
    return 1;
  }
  snprintf(d.dir, sizeof(d.dir), "/tmp/cocoon-demo.XXXXXX");
  if (!mkdtemp(d.dir)) {
    fprintf(stderr, "demo: cannot create a temporary directory\n");
    return 1;
  }
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  signal(SIGPIPE, SIG_IGN);
  curl_global_init(CURL_GLOBAL_DEFAULT);
  int rc = 1;
  char rf[PATH_MAX + 32], kd[PATH_MAX + 32];
  int bfd = -1;
  if (!test_backend && user_model) {
    if (access(user_model, R_OK) != 0) {
      fprintf(stderr, "demo: cannot read the model %s: %s\n", user_model, strerror(errno));
      goto out;
    }
    snprintf(d.model_path, sizeof(d.model_path), "%s", user_model);
  } else if (!test_backend) {
    /* d.dir is a short mkdtemp name, far below PATH_MAX. */
    int n = snprintf(d.model_path, sizeof(d.model_path), "%.200s/demo.gguf", d.dir);
    if (n < 0 || (size_t)n >= sizeof(d.model_path)) goto out;
    struct testmodel_opts o = {.arch = "qwen3", .preset = "tiny", .type = QUANT_Q8_0, .seed = 1, .tied = -1};
    struct err e = {0};
    if (testmodel_write_file(&o, d.model_path, &e) != 0) {
      fprintf(stderr, "demo: cannot generate a model: %s\n", e.msg);
      goto out;
    }
    d.generated = 1;
  }
  if (test_backend) {
    char *av[] = {d.backend_bin, "--listen", "127.0.0.1:0", "--text", "--chunks", "20", "--chunk-bytes", "13", "--delay-ms", "40",
                  NULL};
    if (spawn(&d, "backend", av, &bfd)) goto out;
    FILE *f = fdopen(bfd, "r");
    if (!f || !fgets(d.backend_url, sizeof(d.backend_url), f)) {
      fprintf(stderr, "demo: test backend did not start\n");
      show_log(&d, "backend");
      if (f) fclose(f);
      goto out;
    }
    fclose(f);
    d.backend_url[strcspn(d.backend_url, "\r\n")] = 0;
  }
  {
    snprintf(rf, sizeof(rf), "%s/proxy.ready", d.dir);
    snprintf(kd, sizeof(kd), "%s/proxy-keys", d.dir);
    char *av[] = {d.self, "proxy", "--worker-listen", "127.0.0.1:0", "--client-listen", "127.0.0.1:0", "--http-listen",
                  "127.0.0.1:0", "--ready-file", rf, "--key-dir", kd, "--log-level", "warn", NULL};
    if (spawn(&d, "proxy", av, NULL) || ready_get(&d, "proxy", "worker_addr", d.worker_addr, sizeof(d.worker_addr)) ||
        ready_get(&d, "proxy", "client_addr", d.client_addr, sizeof(d.client_addr)) ||
        ready_get(&d, "proxy", "http_url", d.proxy_url, sizeof(d.proxy_url)))
      goto out;
  }
  {
    snprintf(rf, sizeof(rf), "%s/worker.ready", d.dir);
    snprintf(kd, sizeof(kd), "%s/worker-keys", d.dir);
    char threads[16];
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    snprintf(threads, sizeof(threads), "%ld", ncpu < 1 ? 1 : ncpu > 8 ? 8 : ncpu);
    char *http_av[] = {d.self, "worker", "--proxy", d.worker_addr, "--backend", d.backend_url, "--model",
                       "test-model", "--http-listen", "127.0.0.1:0", "--ready-file", rf, "--key-dir", kd, "--log-level",
                       "warn", NULL};
    char *engine_av[] = {d.self, "worker", "--proxy", d.worker_addr, "--backend", "builtin", "--model-path",
                         d.model_path, "--engine-threads", threads, "--http-listen", "127.0.0.1:0", "--ready-file", rf,
                         "--key-dir", kd, "--log-level", "warn", NULL};
    char tmp[256];
    if (spawn(&d, "worker", test_backend ? http_av : engine_av, NULL) ||
        ready_get(&d, "worker", "http_url", tmp, sizeof(tmp)))
      goto out;
  }
  {
    snprintf(rf, sizeof(rf), "%s/client.ready", d.dir);
    snprintf(kd, sizeof(kd), "%s/client-keys", d.dir);
    char *av[] = {d.self, "client", "--proxy", d.client_addr, "--http-listen", "127.0.0.1:0", "--ready-file", rf,
                  "--key-dir", kd, "--log-level", "warn", NULL};
    if (spawn(&d, "client", av, NULL) || ready_get(&d, "client", "http_url", d.client_url, sizeof(d.client_url)))
      goto out;
  }
  {
    int ok = 0;
    for (int t = 0; t < DEMO_START_TIMEOUT_MS / 100 && !g_stop; t++) {
      if ((ok = models_ready(&d))) break;
      sleep_ms(100);
    }
    if (!ok) {
      fprintf(stderr, "demo: the worker's model never became available through the client\n");
      show_log(&d, "proxy");
      show_log(&d, "worker");
      show_log(&d, "client");
      goto out;
    }
  }
  if (serve) {
    printf("%s/v1\n", d.client_url);
    printf("# local cocoon network: client %s, proxy stats %s/stats, backend %s (model %s)\n"
           "# try: curl %s/v1/chat/completions -H 'Content-Type: application/json' "
           "-d '{\"model\":\"%s\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}'\n"
           "# Ctrl-C stops it; logs in %s\n",
           d.client_url, d.proxy_url, test_backend ? d.backend_url : "built-in engine", d.model, d.client_url,
           d.model, d.dir);
    if (d.generated) printf("# the model is a tiny generated one (random weights): its answers are gibberish\n");
    fflush(stdout);
    while (!g_stop) {
      for (int i = 0; i < d.n; i++)
        if (!child_alive(&d, i)) {
          fprintf(stderr, "demo: %s exited\n", d.names[i]);
          show_log(&d, d.names[i]);
          g_stop = -1;
          break;
        }
      sleep_ms(200);
    }
    rc = g_stop > 0 ? 0 : 1;
  } else {
    printf("local network up: backend %s, proxy %s (workers %s, clients %s), client %s\n",
           test_backend ? d.backend_url : "built-in engine", d.proxy_url, d.worker_addr, d.client_addr,
           d.client_url);
    if (!test_backend) printf("model: %s (%s)\n", d.model_path, d.generated ? "generated" : "yours");
    rc = send_request(&d) ? 1 : 0;
    if (rc) {
      show_log(&d, "proxy");
      show_log(&d, "worker");
      show_log(&d, "client");
    }
  }
out:
  stop_all(&d);
  if (!rc && !serve) printf("network stopped cleanly\n");
  /* Remove the temporary directory (keys, ready files, logs). */
  const char *sub[] = {"proxy-keys", "worker-keys", "client-keys"};
  for (size_t i = 0; i < 3; i++) {
    char p[PATH_MAX + 64];
    static const char *ledger_files[] = {"ledger.db", "ledger.db-wal", "ledger.db-shm"};
    for (size_t k = 0; k < 3; k++) {
      snprintf(p, sizeof(p), "%s/%s/%s", d.dir, sub[i], ledger_files[k]);
      unlink(p);
    }
    snprintf(p, sizeof(p), "%s/%s/cert.pem", d.dir, sub[i]);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s/key.pem", d.dir, sub[i]);
    unlink(p);
    snprintf(p, sizeof(p), "%s/%s", d.dir, sub[i]);
    rmdir(p);
  }
  const char *files[] = {"proxy.ready", "worker.ready", "client.ready", "backend.log", "proxy.log", "worker.log",
                         "client.log", "demo.gguf"};
  if (rc == 0)
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
      char p[PATH_MAX + 64];
      snprintf(p, sizeof(p), "%s/%s", d.dir, files[i]);
      unlink(p);
    }
  if (rc == 0) rmdir(d.dir);
  curl_global_cleanup();
  return rc;
}
