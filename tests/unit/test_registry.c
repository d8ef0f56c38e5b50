/* test_registry: the signed registry file: format, every parse error, signatures, versions,
 * reloads and the rollback floor. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "attest/quote.h"
#include "config/config.h"
#include "core/node.h"
#include "registry/registry.h"
#include "registry/signer.h"
#include "registry/source.h"
#include "registry/watch.h"

static char g_dir[64];

static int setup(void **state) {
  snprintf(g_dir, sizeof(g_dir), "/tmp/cocoon-reg.XXXXXX");
  if (!mkdtemp(g_dir)) return -1;
  return 0;
}

static int teardown(void **state) {
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf %s", g_dir);
  return system(cmd) == 0 ? 0 : -1;
}

static struct registry_signer *new_signer(const char *name) {
  char path[128];
  snprintf(path, sizeof(path), "%s/%s", g_dir, name);
  unlink(path);
  struct registry_signer *s = NULL;
  struct err e = {0};
  if (registry_signer_create(path, &s, &e)) fail_msg("signer: %s", e.msg);
  return s;
}

/* A registry with one entry in every list. */
static struct registry *sample(const struct registry_signer *s, uint64_t version) {
  static struct registry r;
  struct err e = {0};
  registry_init(&r, registry_signer_pubkey(s));
  r.version = version;
  uint8_t h[32];
  memset(h, 0x11, 32);
  assert_int_equal(registry_add_hash(&r, REGISTRY_PROXY_IMAGE, h, &e), 0);
  memset(h, 0x22, 32);
  assert_int_equal(registry_add_hash(&r, REGISTRY_WORKER_IMAGE, h, &e), 0);
  assert_int_equal(registry_model_hash("test-model", 10, h), 0);
  assert_int_equal(registry_add_hash(&r, REGISTRY_MODEL, h, &e), 0);
  assert_int_equal(registry_add_proxy(&r, "127.0.0.1:8888", &e), 0);
  return &r;
}

static void text_of(const struct registry *r, struct buf *b) {
  buf_init(b, REGISTRY_MAX_FILE);
  assert_int_equal(registry_serialize(r, b), 0);
}

static void test_roundtrip_and_sign(void **state) {
  struct registry_signer *s = new_signer("owner.key");
  struct registry *r = sample(s, 3);
  struct err e = {0};
  assert_int_equal(registry_sign(r, s, &e), 0);
  struct buf b;
  text_of(r, &b);
  static struct registry p;
  assert_int_equal(registry_load(buf_ptr(&b), b.len, registry_signer_pubkey(s), &p, &e), 0);
  assert_int_equal(p.version, 3);
  assert_int_equal(p.n_hashes[REGISTRY_MODEL], 1);
  assert_string_equal(p.proxy_addrs[0], "127.0.0.1:8888");
  assert_int_equal(p.params.price_per_token, 2);
  assert_true(p.body_len < b.len);
  /* Canonical: serializing what was parsed gives the same bytes. */
  struct buf b2;
  text_of(&p, &b2);
  assert_int_equal(b2.len, b.len);
  assert_memory_equal(buf_ptr(&b2), buf_ptr(&b), b.len);
  buf_free(&b2);

  /* Every single-byte change of the signed body is refused (parse error or bad signature). */
  size_t refused = 0, body_len = p.body_len;
  for (size_t i = 0; i < body_len; i++) {
    uint8_t *d = buf_ptr(&b);
    uint8_t old = d[i];
    d[i] = (uint8_t)(old == '1' ? '2' : (old == 'a' ? 'b' : old ^ 1));
    if (registry_load(d, b.len, registry_signer_pubkey(s), &p, &e) != 0) refused++;
    d[i] = old;
  }
  assert_int_equal(refused, body_len);
  /* A flipped signature byte: bad signature. */
  uint8_t *d = buf_ptr(&b);
  d[b.len - 2] = d[b.len - 2] == '0' ? '1' : '0';
  assert_int_equal(registry_load(d, b.len, registry_signer_pubkey(s), &p, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "bad signature"));
  buf_free(&b);

  /* Signed by another key that names itself the owner: refused against the pinned owner. */
  struct registry_signer *other = new_signer("other.key");
  struct registry *r2 = sample(other, 4);
  assert_int_equal(registry_sign(r2, other, &e), 0);
  text_of(r2, &b);
  assert_int_equal(registry_load(buf_ptr(&b), b.len, registry_signer_pubkey(s), &p, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "is not the expected owner"));
  buf_free(&b);
  /* The other key cannot sign a registry naming our owner. */
  r2 = sample(s, 4);
  assert_int_equal(registry_sign(r2, other, &e), ERR_INVALID);
  /* Unsigned: refused. */
  r2->is_signed = 0;
  text_of(r2, &b);
  assert_int_equal(registry_load(buf_ptr(&b), b.len, registry_signer_pubkey(s), &p, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "not signed"));
  buf_free(&b);
  registry_signer_free(other);
  registry_signer_free(s);
}

/* Each case: a replacement applied to the sample's text and the error it must give. */
struct bad_case {
  const char *from, *to, *want;
};

static void test_parse_errors(void **state) {
  static const uint8_t owner[32] = {7};
  static struct registry r;
  struct err e = {0};
  registry_init(&r, owner);
  uint8_t h[32];
  memset(h, 0x11, 32);
  assert_int_equal(registry_add_hash(&r, REGISTRY_PROXY_IMAGE, h, &e), 0);
  memset(h, 0x33, 32);
  assert_int_equal(registry_add_hash(&r, REGISTRY_PROXY_IMAGE, h, &e), 0);
  memset(h, 0x22, 32);
  assert_int_equal(registry_add_hash(&r, REGISTRY_WORKER_IMAGE, h, &e), 0);
  assert_int_equal(registry_add_proxy(&r, "10.0.0.1:80", &e), 0);
  r.is_signed = 1;
  memset(r.signature, 0xab, sizeof(r.signature));
  struct buf b;
  text_of(&r, &b);
  char *base = util_strndup((const char *)buf_ptr(&b), b.len);
  buf_free(&b);
  char h11[65], h22[65], h33[65];
  memset(h, 0x11, 32);
  util_hex(h, 32, h11);
  memset(h, 0x22, 32);
  util_hex(h, 32, h22);
  memset(h, 0x33, 32);
  util_hex(h, 32, h33);
  char unsorted[300], backwards[300], upper[80];
  snprintf(unsorted, sizeof(unsorted), "proxy_image %s\nproxy_image %s\n", h33, h11);
  snprintf(backwards, sizeof(backwards), "worker_image %s\nproxy_image %s\n", h22, h11);
  snprintf(upper, sizeof(upper), "proxy_image %.2s", "AB");
  char pi_pair[300], dup[300];
  snprintf(pi_pair, sizeof(pi_pair), "proxy_image %s\nproxy_image %s\n", h11, h33);
  snprintf(dup, sizeof(dup), "proxy_image %s\nproxy_image %s\n", h11, h11);
  char wi[100], wi_back[200];
  snprintf(wi, sizeof(wi), "worker_image %s\n", h22);
  snprintf(wi_back, sizeof(wi_back), "worker_image %s\nproxy_image %s\n", h22, h33);
  const struct bad_case cases[] = {
      {"cocoon-registry 1", "cocoon-registri 1", "not a registry file"},
      {"cocoon-registry 1", "cocoon-registry 2", "format 2 is not supported"},
      {"version 1\n", "version 0\n", "outside 1.."},
      {"version 1\n", "version 01\n", "canonical decimal"},
      {"version 1\n", "version 18446744073709551616\n", "below 2^64"},
      {"version 1\n", "version -1\n", "decimal number"},
      {"version 1\n", "", "expected 'version', got 'owner'"},
      {"owner 07", "owner 7", "64 lowercase hex"},
      {"owner 07", "owner 0G", "64 lowercase hex"},
      {"price_per_token 2\n", "price_per_token 2 \n", "trailing space"},
      {"price_per_token 2\n", "price_per_token  2\n", "decimal"},
      {"price_per_token 2\n", "price_per_token 9223372036854775807\n", "outside 0..2305843009213693951"},
      {"price_per_token 2\n", "price_per_token\n", "expected 'key value'"},
      {"prompt_multiplier 10000\n", "prompt_multiplier 4294967296\n", "outside 0..4294967295"},
      {"cached_multiplier 10000\n", "", "expected 'cached_multiplier', got 'completion_multiplier'"},
      {"min_client_stake 1000000000\n", "min_client_stake 1000000000\r\n", "not printable ASCII"},
      {"min_client_stake 1000000000\n", "min_client_stake 1000000000\n\n", "empty line"},
      {"min_client_stake 1000000000\n", "min_client_stake 1000000000\nfoo bar\n", "unknown key 'foo'"},
      {pi_pair, unsorted, "sorted ascending"},
      {pi_pair, dup, "sorted ascending"},
      {"proxy_image 1111", "proxy_image AB11", "lowercase hex"},
      {pi_pair, "", "__none__"}, /* placeholder replaced below */
      {wi, "", "__none__"},
      {"proxy_addr 10.0.0.1:80", "proxy_addr 10.0.0.1", "is not 'host:port'"},
      {"proxy_addr 10.0.0.1:80", "proxy_addr 10.0.0.1:080", "is not 'host:port'"},
      {"proxy_addr 10.0.0.1:80", "proxy_addr 10.0.0.1:0", "is not 'host:port'"},
      {"proxy_addr 10.0.0.1:80", "proxy_addr a;b:80", "is not 'host:port'"},
      {"proxy_addr 10.0.0.1:80\n", "proxy_addr 10.0.0.1:80\nproxy_addr 10.0.0.1:80\n", "repeated"},
      {"signature ab", "signature zz", "128 lowercase hex"},
      {"signature ", "proxy_addr 1.2.3.4:5\nsignature ", "__ok__"},
      {"proxy_addr 10.0.0.1:80\n", "proxy_addr 10.0.0.1:80\nworker_image 2222222222222222222222222222222222222222222222222222222222222222\n",
       "must come before 'proxy_addr'"},
  };
  for (size_t i = 0; i < CC_ARRAY_LEN(cases); i++) {
    const struct bad_case *c = &cases[i];
    if (!strcmp(c->want, "__none__")) continue;
    const char *at = strstr(base, c->from);
    if (!at) fail_msg("case %zu: '%s' not in the sample", i, c->from);
    struct buf t;
    buf_init(&t, REGISTRY_MAX_FILE * 2);
    assert_int_equal(buf_append(&t, base, (size_t)(at - base)), 0);
    assert_int_equal(buf_append_str(&t, c->to), 0);
    assert_int_equal(buf_append_str(&t, at + strlen(c->from)), 0);
    memset(&e, 0, sizeof(e));
    int rc = registry_parse(buf_ptr(&t), t.len, &r, &e);
    if (!strcmp(c->want, "__ok__")) {
      if (rc) fail_msg("case %zu: refused: %s", i, e.msg);
    } else {
      if (rc == 0) fail_msg("case %zu ('%s' -> '%s') accepted", i, c->from, c->to);
      if (!strstr(e.msg, c->want)) fail_msg("case %zu: error '%s' lacks '%s'", i, e.msg, c->want);
      if (!strstr(e.msg, "line ") && !strstr(e.msg, "not a registry")) fail_msg("case %zu: no line number: %s", i, e.msg);
    }
    buf_free(&t);
  }
  /* worker_image before proxy_image: order of sections. */
  const char *at = strstr(base, pi_pair);
  struct buf t;
  buf_init(&t, REGISTRY_MAX_FILE * 2);
  assert_int_equal(buf_append(&t, base, (size_t)(at - base)), 0);
  assert_int_equal(buf_append_str(&t, backwards), 0);
  const char *rest = strstr(at, wi) + strlen(wi);
  assert_int_equal(buf_append_str(&t, rest), 0);
  assert_int_not_equal(registry_parse(buf_ptr(&t), t.len, &r, &e), 0);
  assert_non_null(strstr(e.msg, "must come before 'worker_image'"));
  buf_free(&t);
  /* Signature not last; no final newline; truncated; too big; empty. */
  char *s2 = util_strndup(base, strlen(base));
  char *sig = strstr(s2, "signature ");
  assert_int_not_equal(registry_parse((const uint8_t *)s2, strlen(s2) - 1, &r, &e), 0);
  assert_non_null(strstr(e.msg, "must end with a newline"));
  assert_int_not_equal(registry_parse((const uint8_t *)s2, (size_t)(sig - s2) + 10, &r, &e), 0);
  buf_init(&t, REGISTRY_MAX_FILE * 2);
  assert_int_equal(buf_append_str(&t, base), 0);
  assert_int_equal(buf_append_str(&t, "proxy_addr 1.2.3.4:5\n"), 0);
  assert_int_not_equal(registry_parse(buf_ptr(&t), t.len, &r, &e), 0);
  assert_non_null(strstr(e.msg, "signature must be the last line"));
  buf_free(&t);
  assert_int_equal(registry_parse((const uint8_t *)"", 0, &r, &e), ERR_PARSE);
  assert_int_not_equal(registry_parse((const uint8_t *)s2, (size_t)(strstr(s2, "min_client_stake") - s2), &r, &e), 0);
  assert_non_null(strstr(e.msg, "ends early"));
  static uint8_t big[REGISTRY_MAX_FILE + 1];
  memset(big, 'a', sizeof(big));
  assert_int_equal(registry_parse(big, sizeof(big), &r, &e), ERR_LIMIT);
  assert_int_equal(registry_parse(big, 1000, &r, &e), ERR_LIMIT); /* an overlong line */
  free(s2);
  free(base);
}

static void test_edit(void **state) {
  static const uint8_t owner[32] = {1};
  static struct registry r;
  struct err e = {0};
  registry_init(&r, owner);
  uint8_t h[32];
  for (int i = REGISTRY_MAX_HASHES - 1; i >= 0; i--) {
    memset(h, 0, 32);
    h[0] = (uint8_t)i;
    h[31] = 1;
    assert_int_equal(registry_add_hash(&r, REGISTRY_WORKER_IMAGE, h, &e), 0);
  }
  for (size_t i = 1; i < r.n_hashes[REGISTRY_WORKER_IMAGE]; i++)
    assert_true(memcmp(r.hashes[REGISTRY_WORKER_IMAGE][i - 1], r.hashes[REGISTRY_WORKER_IMAGE][i], 32) < 0);
  memset(h, 0xee, 32);
  assert_int_equal(registry_add_hash(&r, REGISTRY_WORKER_IMAGE, h, &e), ERR_LIMIT);
  memset(h, 0, 32);
  h[31] = 1;
  assert_int_equal(registry_add_hash(&r, REGISTRY_WORKER_IMAGE, h, &e), ERR_INVALID);
  assert_true(registry_has_hash(&r, REGISTRY_WORKER_IMAGE, h));
  assert_int_equal(registry_remove_hash(&r, REGISTRY_WORKER_IMAGE, h, &e), 0);
  assert_false(registry_has_hash(&r, REGISTRY_WORKER_IMAGE, h));
  assert_int_equal(registry_remove_hash(&r, REGISTRY_WORKER_IMAGE, h, &e), ERR_NOTFOUND);
  assert_int_equal(registry_add_proxy(&r, "proxy.example.org:443 proxy.example.org:444", &e), 0);
  assert_int_equal(registry_add_proxy(&r, "proxy.example.org:443 proxy.example.org:444", &e), ERR_INVALID);
  assert_int_equal(registry_add_proxy(&r, "x:1 y:2 z:3", &e), ERR_INVALID);
  assert_int_equal(registry_add_proxy(&r, "", &e), ERR_INVALID);
  struct registry_params p = r.params;
  p.price_per_token = -1;
  assert_int_equal(registry_params_check(&p, &e), ERR_INVALID);
  p = r.params;
  p.min_client_stake = REGISTRY_MAX_PRICE + 1;
  assert_int_equal(registry_params_check(&p, &e), ERR_INVALID);
  assert_int_equal(registry_params_check(&r.params, &e), 0);
  /* COCOON's model hash: SHA-256 of the full name. */
  assert_int_equal(registry_model_hash("abc", 3, h), 0);
  char hex[65];
  util_hex(h, 32, hex);
  assert_string_equal(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void write_text(const char *path, const struct registry *r) {
  struct buf b;
  text_of(r, &b);
  char tmp[160];
  snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  FILE *f = fopen(tmp, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(buf_ptr(&b), 1, b.len, f), b.len);
  fclose(f);
  assert_int_equal(rename(tmp, path), 0);
  buf_free(&b);
}

static int g_changes;
static uint64_t g_seen;
static void changed_cb(void *arg, const struct registry *r) {
  g_changes++;
  g_seen = r->version;
}

static void test_watch(void **state) {
  struct registry_signer *s = new_signer("watch.key");
  struct registry_signer *other = new_signer("watch-other.key");
  const uint8_t *owner = registry_signer_pubkey(s);
  char path[128], statef[128];
  snprintf(path, sizeof(path), "%s/registry", g_dir);
  snprintf(statef, sizeof(statef), "%s/registry_version", g_dir);
  unlink(statef);
  struct err e = {0};
  struct registry_source *src = NULL;

  /* Missing file, unsigned file, badly signed file: refused at open. */
  unlink(path);
  assert_int_equal(registry_file_source_new(path, owner, &src, &e), 0);
  struct registry_watch w;
  assert_int_equal(registry_watch_open(&w, src, statef, &e), ERR_IO);
  struct registry *r = sample(s, 2);
  write_text(path, r);
  assert_int_equal(registry_file_source_new(path, owner, &src, &e), 0);
  assert_int_equal(registry_watch_open(&w, src, statef, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "not signed"));
  r->is_signed = 1;
  memset(r->signature, 0x5a, REGISTRY_SIG_LEN);
  write_text(path, r);
  assert_int_equal(registry_file_source_new(path, owner, &src, &e), 0);
  assert_int_equal(registry_watch_open(&w, src, statef, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "bad signature"));

  /* Version 2, signed: accepted; the floor is recorded. */
  assert_int_equal(registry_sign(r, s, &e), 0);
  write_text(path, r);
  assert_int_equal(registry_file_source_new(path, owner, &src, &e), 0);
  assert_int_equal(registry_watch_open(&w, src, statef, &e), 0);
  assert_int_equal(w.cur->version, 2);
  w.changed_cb = changed_cb;
  g_changes = 0;
  assert_int_equal(registry_watch_poll(&w), 0); /* unchanged */

  /* Version 3 adds a worker image: picked up. */
  r = sample(s, 3);
  uint8_t h[32];
  memset(h, 0x44, 32);
  assert_int_equal(registry_add_hash(r, REGISTRY_WORKER_IMAGE, h, &e), 0);
  assert_int_equal(registry_sign(r, s, &e), 0);
  write_text(path, r);
  assert_int_equal(registry_watch_poll(&w), 1);
  assert_int_equal(g_changes, 1);
  assert_int_equal(g_seen, 3);
  assert_true(registry_has_hash(w.cur, REGISTRY_WORKER_IMAGE, h));
  assert_int_equal(w.reloads, 1);

  /* Older version 2 again: refused, 3 kept. */
  r = sample(s, 2);
  assert_int_equal(registry_sign(r, s, &e), 0);
  write_text(path, r);
  assert_int_equal(registry_watch_poll(&w), ERR_REFUSED);
  assert_int_equal(w.cur->version, 3);
  assert_non_null(strstr(w.last_error, "older than the loaded version 3"));
  /* Same number, other content: refused. */
  r = sample(s, 3);
  assert_int_equal(registry_sign(r, s, &e), 0);
  write_text(path, r);
  assert_int_equal(registry_watch_poll(&w), ERR_REFUSED);
  assert_non_null(strstr(w.last_error, "a change needs a higher version"));
  /* Version 4 signed by another key: refused. */
  r = sample(other, 4);
  assert_int_equal(registry_sign(r, other, &e), 0);
  write_text(path, r);
  assert_int_equal(registry_watch_poll(&w), ERR_REFUSED);
  assert_non_null(strstr(w.last_error, "not the expected owner"));
  /* Garbage: refused with the parser's message. */
  FILE *f = fopen(path, "w");
  fputs("hello\n", f);
  fclose(f);
  assert_int_equal(registry_watch_poll(&w), ERR_PARSE);
  assert_int_equal(w.cur->version, 3);
  assert_int_equal(w.rejected, 4);
  assert_int_equal(g_changes, 1);
  struct buf j;
  buf_init(&j, 4096);
  assert_int_equal(registry_watch_json(&w, &j), 0);
  assert_int_equal(buf_append(&j, "", 1), 0);
  assert_non_null(strstr((const char *)buf_ptr(&j), "\"version\":3"));
  assert_non_null(strstr((const char *)buf_ptr(&j), "\"rejected\":4"));
  buf_free(&j);
  registry_watch_cleanup(&w);

  /* After a restart, version 2 is below the recorded floor (3): refused at open. */
  r = sample(s, 2);
  assert_int_equal(registry_sign(r, s, &e), 0);
  write_text(path, r);
  assert_int_equal(registry_file_source_new(path, owner, &src, &e), 0);
  assert_int_equal(registry_watch_open(&w, src, statef, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "refusing a rollback"));
  /* Without the floor file it would load: the refusal comes from the floor. */
  assert_int_equal(registry_file_source_new(path, owner, &src, &e), 0);
  assert_int_equal(registry_watch_open(&w, src, NULL, &e), 0);
  registry_watch_cleanup(&w);
  registry_signer_free(other);
  registry_signer_free(s);
}

static void test_signer_file(void **state) {
  char path[128];
  snprintf(path, sizeof(path), "%s/k.pem", g_dir);
  unlink(path);
  struct registry_signer *s = NULL, *t = NULL;
  struct err e = {0};
  assert_int_equal(registry_signer_create(path, &s, &e), 0);
  struct stat st;
  assert_int_equal(stat(path, &st), 0);
  assert_int_equal(st.st_mode & 0777, 0600);
  assert_int_equal(registry_signer_create(path, &t, &e), ERR_INVALID); /* never overwritten */
  assert_int_equal(registry_signer_load(path, &t, &e), 0);
  assert_memory_equal(registry_signer_pubkey(s), registry_signer_pubkey(t), 32);
  registry_signer_free(t);
  t = NULL;
  assert_int_equal(chmod(path, 0644), 0);
  assert_int_equal(registry_signer_load(path, &t, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "chmod 600 it"));
  registry_signer_free(s);
}

/* ---------------------------------------------------------------- in a node */

static const struct config_key node_schema[] = {NODE_CONFIG_KEYS, NODE_PROXY_CONFIG_KEYS, {NULL, 0, 0, 0, NULL, NULL, 0}};

/* A config from "key=value" pairs (NULL-terminated). */
static struct config *node_cfg(const char *const *kv) {
  struct err e = {0};
  struct config *c = config_new(node_schema, &e);
  assert_non_null(c);
  assert_int_equal(config_set_override(c, "log_level", "error", &e), 0);
  for (size_t i = 0; kv[i]; i += 2)
    if (config_set_override(c, kv[i], kv[i + 1], &e)) fail_msg("%s: %s", kv[i], e.msg);
  return c;
}

static int node_try(const char *role, const char *const *kv, struct node *n, struct err *e) {
  struct config *c = node_cfg(kv);
  int rc = node_init(n, c, role, e);
  config_free(c);
  return rc;
}

static void test_node_registry(void **state) {
  struct registry_signer *s = new_signer("node.key");
  char owner[65], path[128], kd[128];
  util_hex(registry_signer_pubkey(s), 32, owner);
  snprintf(path, sizeof(path), "%s/node-registry", g_dir);
  snprintf(kd, sizeof(kd), "%s/node-keys", g_dir);
  struct registry *r = sample(s, 5);
  uint8_t fake_image[32]; /* fake_tdx peers: SHA-256 of 448 zero bytes */
  {
    struct attest_td_report td;
    memset(&td, 0, sizeof(td));
    assert_int_equal(attest_image_hash(&td, fake_image), 0);
  }
  struct err e = {0};
  assert_int_equal(registry_add_hash(r, REGISTRY_WORKER_IMAGE, fake_image, &e), 0);
  assert_int_equal(registry_sign(r, s, &e), 0);
  write_text(path, r);
  struct node n;

  /* Configuration errors, each named. */
  const char *const only_owner[] = {"registry_owner", owner, NULL};
  assert_int_equal(node_try("client", only_owner, &n, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "registry_owner is set but registry"));
  const char *const no_owner[] = {"registry", path, "policy", "fake_tdx", NULL};
  assert_int_equal(node_try("client", no_owner, &n, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "registry needs registry_owner"));
  const char *const bad_owner[] = {"registry", path, "registry_owner", "xyz", "policy", "fake_tdx", NULL};
  assert_int_equal(node_try("client", bad_owner, &n, &e), ERR_INVALID);
  const char *const any_policy[] = {"registry", path, "registry_owner", owner, NULL};
  assert_int_equal(node_try("client", any_policy, &n, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "policy is any"));
  const char *const any_worker_policy[] = {"registry", path, "registry_owner", owner, "policy", "fake_tdx",
                                           "worker_policy", "any", NULL};
  assert_int_equal(node_try("proxy", any_worker_policy, &n, &e), ERR_INVALID);
  assert_non_null(strstr(e.msg, "worker_policy is any"));
  char other[65];
  memset(other, '1', 64);
  other[64] = 0;
  const char *const wrong_owner[] = {"registry", path, "registry_owner", other, "policy", "fake_tdx", NULL};
  assert_int_equal(node_try("client", wrong_owner, &n, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "is not the expected owner"));

  /* A proxy on version 5: workers with the fake image are allowed, others not; models by hash. */
  const char *const ok[] = {"registry", path, "registry_owner", owner, "policy", "fake_tdx", "key_dir", kd, NULL};
  assert_int_equal(node_try("proxy", ok, &n, &e), 0);
  assert_int_equal(node_registry_version(&n), 5);
  assert_non_null(node_registry(&n));
  assert_int_equal(node_registry(&n)->params.price_per_token, 2);
  struct ratls_result peer;
  memset(&peer, 0, sizeof(peer));
  peer.peer.attested = 1;
  memcpy(peer.peer.image_hash, fake_image, 32);
  char why[200];
  assert_int_equal(node_peer_allowed(&n, NODE_PEER_WORKER, &peer, "test-model", 10, why, sizeof(why)), 0);
  assert_int_equal(node_peer_allowed(&n, NODE_PEER_WORKER, &peer, "other\"<model>", 13, why, sizeof(why)), ERR_REFUSED);
  assert_non_null(strstr(why, "model other??model? (hash "));
  assert_non_null(strstr(why, "not in registry v5 (1 models allowed)"));
  assert_int_equal(node_peer_allowed(&n, NODE_PEER_CLIENT, &peer, NULL, 0, why, sizeof(why)), 0); /* not governed */
  peer.peer.image_hash[0] ^= 1;
  assert_int_equal(node_peer_allowed(&n, NODE_PEER_WORKER, &peer, NULL, 0, why, sizeof(why)), ERR_REFUSED);
  assert_non_null(strstr(why, "no longer in registry v5 worker images"));
  peer.peer.attested = 0;
  assert_int_equal(node_peer_allowed(&n, NODE_PEER_WORKER, &peer, NULL, 0, why, sizeof(why)), ERR_REFUSED);
  struct buf j;
  buf_init(&j, 1 << 16);
  assert_int_equal(node_stats_json(&n, &j), 0);
  assert_int_equal(buf_append(&j, "", 1), 0);
  assert_non_null(strstr((const char *)buf_ptr(&j), "\"worker_policy\":\"fake_tdx\",\"client_policy\":\"fake_tdx\""));
  assert_non_null(strstr((const char *)buf_ptr(&j), "\"registry\":{\"source\":\"file "));
  assert_non_null(strstr((const char *)buf_ptr(&j), "\"version\":5,"));
  buf_free(&j);
  node_cleanup(&n);

  /* The floor in key_dir: version 4 is now a rollback. */
  r = sample(s, 4);
  assert_int_equal(registry_sign(r, s, &e), 0);
  write_text(path, r);
  assert_int_equal(node_try("proxy", ok, &n, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "refusing a rollback"));

  /* The sim TEE measures registry_owner, not the registry file's path (a machine-local place). */
  const char *const m1[] = {"registry", "/a", "registry_owner", owner, NULL};
  const char *const m2[] = {"registry", "/b", "registry_owner", owner, NULL};
  const char *const m3[] = {"registry", "/a", "registry_owner", other, NULL};
  uint8_t h1[48], h2[48], h3[48];
  struct config *c = node_cfg(m1);
  assert_int_equal(node_config_measure(c, "proxy", h1), 0);
  config_free(c);
  c = node_cfg(m2);
  assert_int_equal(node_config_measure(c, "proxy", h2), 0);
  config_free(c);
  c = node_cfg(m3);
  assert_int_equal(node_config_measure(c, "proxy", h3), 0);
  config_free(c);
  assert_memory_equal(h1, h2, 48);
  assert_memory_not_equal(h1, h3, 48);
  registry_signer_free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_roundtrip_and_sign), cmocka_unit_test(test_parse_errors), cmocka_unit_test(test_edit),
      cmocka_unit_test(test_watch), cmocka_unit_test(test_signer_file),
      cmocka_unit_test(test_node_registry),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
