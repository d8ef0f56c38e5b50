/* registry_cmd: `cocoon registry init|add|remove|sign|show|verify`: edit and check the signed
 * root configuration file. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/registry_cmd.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/util.h"
#include "chain/b64.h"
#include "chain/root_registry.h"
#include "chain/wallet_key.h"
#include "registry/registry.h"
#include "registry/signer.h"
#include "registry/source.h"
#include "ton/boc.h"
#include "ton/sign.h"
#include "ton/wallet.h"

#define PROG "cocoon registry"

static void usage(FILE *f) {
  fprintf(f,
          "usage: cocoon registry <command> FILE [options]\n"
          "The root configuration (allowed proxy/worker images and models, proxy addresses, prices)\n"
          "as a text file signed by the owner's Ed25519 key (format: docs/registry.md).\n"
          "  init FILE (--owner-key KEYFILE | --owner HEX) [--force]\n"
          "      new unsigned file, version 1; creates KEYFILE (mode 0600) when it does not exist\n"
          "  add FILE [entries and parameters]     adds entries / sets parameters; editing a signed\n"
          "  remove FILE [entries]                 file drops its signature and bumps the version\n"
          "      --proxy-image HEX  --worker-image HEX  --model-hash HEX  --model NAME (hashed)\n"
          "      --proxy-addr HOST:PORT[,HOST:PORT]   (workers' and clients' ports)\n"
          "      --price-per-token N  --worker-fee-per-token N  --prompt-multiplier N\n"
          "      --cached-multiplier N  --completion-multiplier N  --reasoning-multiplier N\n"
          "      --proxy-delay-before-close S  --client-delay-before-close S\n"
          "      --min-proxy-stake N  --min-client-stake N      (multipliers: 10000 = 1.0x)\n"
          "  sign FILE --key KEYFILE [--version N]   signs (N: the new version, not below the file's)\n"
          "  show FILE                               prints every field\n"
          "  verify FILE --owner HEX [--min-version N]\n"
          "      exit 0 only when FILE is signed by HEX (and its version is at least N)\n"
          "  root-data FILE (--owner-address ADDR | --owner-wallet-key KEYFILE --wallet v4r2|v5r1 [--testnet])\n"
          "      [--code-dir DIR] [--unique-id N] [--params-version N] [--mainnet] [--out data.boc]\n"
          "      the TON root contract's initial data for FILE's version, parameters, lists and proxies\n"
          "      (registered as 1..n); DIR holds proxy.boc, worker.boc, client.boc (node\n"
          "      contracts/build.cjs DIR). Prints the data cell's hash, the root's address when DIR has\n"
          "      root.boc, and the data's base64 BoC without --out\n");
}

static int load_file(const char *path, struct registry *r) {
  struct buf b;
  buf_init(&b, REGISTRY_MAX_FILE + 1);
  struct err e = {0};
  int rc = registry_read_file(path, &b, &e);
  if (!rc) rc = registry_parse(buf_ptr(&b), b.len, r, &e);
  buf_free(&b);
  if (rc) fprintf(stderr, PROG ": %s: %s\n", path, e.msg);
  return rc;
}

/* Writes atomically: a temporary file next to path, then rename. */
static int save_file(const char *path, const struct registry *r) {
  struct buf b;
  buf_init(&b, REGISTRY_MAX_FILE);
  char tmp[4200];
  int k = snprintf(tmp, sizeof(tmp), "%s.tmp", path);
  int rc = registry_serialize(r, &b);
  if (rc || k < 0 || (size_t)k >= sizeof(tmp)) {
    fprintf(stderr, PROG ": cannot write %s\n", path);
    buf_free(&b);
    return 1;
  }
  FILE *f = fopen(tmp, "wb");
  int ok = f && fwrite(buf_ptr(&b), 1, b.len, f) == b.len;
  if (f && fflush(f) != 0) ok = 0;
  if (f && fsync(fileno(f)) != 0) ok = 0;
  if (f && fclose(f) != 0) ok = 0;
  buf_free(&b);
  if (!ok || rename(tmp, path) != 0) {
    fprintf(stderr, PROG ": cannot write %s: %s\n", path, strerror(errno));
    unlink(tmp);
    return 1;
  }
  return 0;
}

static int parse_hex32(const char *opt, const char *s, uint8_t out[32]) {
  if (strlen(s) != 64 || util_unhex(s, 64, out, 32) != 0) {
    fprintf(stderr, PROG ": %s wants 64 hex digits, got '%.80s'\n", opt, s);
    return -1;
  }
  return 0;
}

static int init_cmd(int argc, char **argv) {
  const char *path = argc > 2 ? argv[2] : NULL, *keyfile = NULL, *owner_hex = NULL;
  int force = 0;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--owner-key") && i + 1 < argc) keyfile = argv[++i];
    else if (!strcmp(argv[i], "--owner") && i + 1 < argc) owner_hex = argv[++i];
    else if (!strcmp(argv[i], "--force")) force = 1;
    else {
      fprintf(stderr, PROG " init: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!path || path[0] == '-' || (!keyfile == !owner_hex)) {
    fprintf(stderr, PROG " init: FILE and one of --owner-key KEYFILE or --owner HEX are required\n");
    return 2;
  }
  if (!force && access(path, F_OK) == 0) {
    fprintf(stderr, PROG " init: %s exists; use --force to replace it\n", path);
    return 1;
  }
  uint8_t owner[32];
  struct err e = {0};
  if (owner_hex && parse_hex32("--owner", owner_hex, owner)) return 2;
  if (keyfile) {
    struct registry_signer *s = NULL;
    int created = access(keyfile, F_OK) != 0;
    int rc = created ? registry_signer_create(keyfile, &s, &e) : registry_signer_load(keyfile, &s, &e);
    if (rc) {
      fprintf(stderr, PROG " init: %s\n", e.msg);
      return 1;
    }
    memcpy(owner, registry_signer_pubkey(s), 32);
    registry_signer_free(s);
    if (created) printf("owner_key: %s (created, mode 0600)\n", keyfile);
  }
  static struct registry r;
  registry_init(&r, owner);
  if (save_file(path, &r)) return 1;
  char hex[65];
  util_hex(owner, 32, hex);
  printf("owner: %s\nversion: 1\nfile: %s (unsigned; run `cocoon registry sign`)\n", hex, path);
  return 0;
}

struct param_opt {
  const char *flag;
  size_t off;
  int is_u32;
};
#define PO(flag, member, u32) {flag, offsetof(struct registry_params, member), u32}
static const struct param_opt param_opts[] = {
    PO("--price-per-token", price_per_token, 0),
    PO("--worker-fee-per-token", worker_fee_per_token, 0),
    PO("--prompt-multiplier", prompt_mult, 1),
    PO("--cached-multiplier", cached_mult, 1),
    PO("--completion-multiplier", completion_mult, 1),
    PO("--reasoning-multiplier", reasoning_mult, 1),
    PO("--proxy-delay-before-close", proxy_delay_before_close, 1),
    PO("--client-delay-before-close", client_delay_before_close, 1),
    PO("--min-proxy-stake", min_proxy_stake, 0),
    PO("--min-client-stake", min_client_stake, 0),
};
#undef PO

static int set_param(struct registry *r, const struct param_opt *o, const char *val) {
  int64_t v = 0;
  int64_t max = o->is_u32 ? (int64_t)UINT32_MAX : REGISTRY_MAX_PRICE;
  if (util_parse_i64(val, 0, max, &v) != 0) {
    fprintf(stderr, PROG ": %s wants an integer in 0..%" PRId64 ", got '%.40s'\n", o->flag, max, val);
    return -1;
  }
  char *p = (char *)&r->params + o->off;
  if (o->is_u32) {
    uint32_t x = (uint32_t)v;
    memcpy(p, &x, sizeof(x));
  } else {
    memcpy(p, &v, sizeof(v));
  }
  return 0;
}

/* add / remove: edits, then drops a signature (bumping the version: the edited file is new). */
static int edit_cmd(int argc, char **argv, int remove) {
  const char *cmd = remove ? "remove" : "add";
  const char *path = argc > 2 ? argv[2] : NULL;
  if (!path || path[0] == '-') {
    fprintf(stderr, PROG " %s: FILE is required\n", cmd);
    return 2;
  }
  static struct registry r;
  if (load_file(path, &r)) return 1;
  int was_signed = r.is_signed, changes = 0;
  struct err e = {0};
  for (int i = 3; i < argc; i++) {
    const char *opt = argv[i];
    if (i + 1 >= argc) {
      fprintf(stderr, PROG " %s: %s needs a value\n", cmd, opt);
      return 2;
    }
    const char *val = argv[++i];
    int list = -1, rc = 0;
    uint8_t h[32];
    if (!strcmp(opt, "--proxy-image")) list = REGISTRY_PROXY_IMAGE;
    else if (!strcmp(opt, "--worker-image")) list = REGISTRY_WORKER_IMAGE;
    else if (!strcmp(opt, "--model-hash")) list = REGISTRY_MODEL;
    if (list >= 0) {
      if (parse_hex32(opt, val, h)) return 2;
    } else if (!strcmp(opt, "--model")) {
      list = REGISTRY_MODEL;
      if (!val[0] || registry_model_hash(val, strlen(val), h) != 0) {
        fprintf(stderr, PROG " %s: --model wants a model name\n", cmd);
        return 2;
      }
    }
    if (list >= 0) {
      rc = remove ? registry_remove_hash(&r, (enum registry_list)list, h, &e)
                  : registry_add_hash(&r, (enum registry_list)list, h, &e);
    } else if (!strcmp(opt, "--proxy-addr")) {
      char addr[REGISTRY_MAX_ADDR + 1];
      snprintf(addr, sizeof(addr), "%s", val);
      char *comma = strchr(addr, ',');
      if (comma) *comma = ' ';
      if (remove) {
        size_t k = 0;
        while (k < r.n_proxy_addrs && strcmp(r.proxy_addrs[k], addr) != 0) k++;
        if (k == r.n_proxy_addrs) rc = err_set(&e, ERR_NOTFOUND, "proxy address %s is not in the registry", addr);
        else {
          memmove(r.proxy_addrs[k], r.proxy_addrs[k + 1], (r.n_proxy_addrs - k - 1) * sizeof(r.proxy_addrs[0]));
          r.n_proxy_addrs--;
        }
      } else {
        rc = registry_add_proxy(&r, addr, &e);
      }
    } else {
      const struct param_opt *po = NULL;
      for (size_t k = 0; k < CC_ARRAY_LEN(param_opts) && !po; k++)
        if (!strcmp(opt, param_opts[k].flag)) po = &param_opts[k];
      if (!po || remove) {
        fprintf(stderr, PROG " %s: unknown option '%s' (see --help)\n", cmd, opt);
        return 2;
      }
      if (set_param(&r, po, val)) return 2;
    }
    if (rc) {
      fprintf(stderr, PROG " %s: %s\n", cmd, e.msg);
      return 1;
    }
    changes++;
  }
  if (!changes) {
    fprintf(stderr, PROG " %s: nothing to change (see --help)\n", cmd);
    return 2;
  }
  if (was_signed) {
    if (r.version == UINT64_MAX) {
      fprintf(stderr, PROG " %s: version %" PRIu64 " cannot grow further\n", cmd, r.version);
      return 1;
    }
    r.is_signed = 0;
    r.version++;
  }
  if (save_file(path, &r)) return 1;
  printf("version: %" PRIu64 "%s\n", r.version, was_signed ? " (was signed: signature dropped, version bumped)" : "");
  printf("signed: no\n");
  return 0;
}

static int sign_cmd(int argc, char **argv) {
  const char *path = argc > 2 ? argv[2] : NULL, *keyfile = NULL, *ver = NULL;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--key") && i + 1 < argc) keyfile = argv[++i];
    else if (!strcmp(argv[i], "--version") && i + 1 < argc) ver = argv[++i];
    else {
      fprintf(stderr, PROG " sign: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!path || path[0] == '-' || !keyfile) {
    fprintf(stderr, PROG " sign: FILE and --key KEYFILE are required\n");
    return 2;
  }
  static struct registry r;
  if (load_file(path, &r)) return 1;
  if (ver) {
    int64_t v = 0;
    if (util_parse_i64(ver, 1, INT64_MAX, &v) != 0) {
      fprintf(stderr, PROG " sign: --version wants an integer in 1..9223372036854775807\n");
      return 2;
    }
    if ((uint64_t)v < r.version) {
      fprintf(stderr, PROG " sign: --version %" PRId64 " is below the file's version %" PRIu64 "; versions only grow\n",
              v, r.version);
      return 1;
    }
    r.version = (uint64_t)v;
  }
  struct registry_signer *s = NULL;
  struct err e = {0};
  if (registry_signer_load(keyfile, &s, &e) || registry_sign(&r, s, &e)) {
    fprintf(stderr, PROG " sign: %s\n", e.msg);
    registry_signer_free(s);
    return 1;
  }
  registry_signer_free(s);
  if (save_file(path, &r)) return 1;
  printf("version: %" PRIu64 "\nsigned: yes\n", r.version);
  return 0;
}

static void print_hex(const char *name, const uint8_t *p, size_t n) {
  char hex[2 * REGISTRY_SIG_LEN + 1];
  util_hex(p, n, hex);
  printf("%s: %s\n", name, hex);
}

static int show_cmd(int argc, char **argv) {
  if (argc != 3 || argv[2][0] == '-') {
    fprintf(stderr, PROG " show: FILE is required\n");
    return 2;
  }
  static struct registry r;
  if (load_file(argv[2], &r)) return 1;
  const struct registry_params *p = &r.params;
  printf("version: %" PRIu64 "\n", r.version);
  print_hex("owner", r.owner, 32);
  printf("price_per_token: %" PRId64 "\nworker_fee_per_token: %" PRId64 "\n", p->price_per_token,
         p->worker_fee_per_token);
  printf("prompt_multiplier: %u\ncached_multiplier: %u\ncompletion_multiplier: %u\nreasoning_multiplier: %u\n",
         p->prompt_mult, p->cached_mult, p->completion_mult, p->reasoning_mult);
  printf("proxy_delay_before_close: %u\nclient_delay_before_close: %u\n", p->proxy_delay_before_close,
         p->client_delay_before_close);
  printf("min_proxy_stake: %" PRId64 "\nmin_client_stake: %" PRId64 "\n", p->min_proxy_stake, p->min_client_stake);
  for (int l = 0; l < REGISTRY_LISTS; l++) {
    printf("%s_count: %zu\n", registry_list_name((enum registry_list)l), r.n_hashes[l]);
    for (size_t i = 0; i < r.n_hashes[l]; i++) print_hex(registry_list_name((enum registry_list)l), r.hashes[l][i], 32);
  }
  printf("proxy_addr_count: %zu\n", r.n_proxy_addrs);
  for (size_t i = 0; i < r.n_proxy_addrs; i++) printf("proxy_addr: %s\n", r.proxy_addrs[i]);
  printf("signed: %s\n", r.is_signed ? "yes (not verified; use `cocoon registry verify`)" : "no");
  return 0;
}

static int verify_cmd(int argc, char **argv) {
  const char *path = argc > 2 ? argv[2] : NULL, *owner_hex = NULL;
  int64_t min_version = 1;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "--owner") && i + 1 < argc) owner_hex = argv[++i];
    else if (!strcmp(argv[i], "--min-version") && i + 1 < argc) {
      if (util_parse_i64(argv[++i], 1, INT64_MAX, &min_version) != 0) {
        fprintf(stderr, PROG " verify: --min-version wants a positive integer\n");
        return 2;
      }
    } else {
      fprintf(stderr, PROG " verify: unknown option '%s'\n", argv[i]);
      return 2;
    }
  }
  if (!path || path[0] == '-' || !owner_hex) {
    fprintf(stderr, PROG " verify: FILE and --owner HEX are required\n");
    return 2;
  }
  uint8_t owner[32];
  if (parse_hex32("--owner", owner_hex, owner)) return 2;
  static struct registry r;
  if (load_file(path, &r)) return 1;
  struct err e = {0};
  if (registry_verify(&r, owner, &e)) {
    fprintf(stderr, PROG " verify: FAILED %s\n", e.msg);
    return 1;
  }
  if (r.version < (uint64_t)min_version) {
    fprintf(stderr, PROG " verify: FAILED version %" PRIu64 " is below %" PRId64 "\n", r.version, min_version);
    return 1;
  }
  printf("ok: version %" PRIu64 " signed by the owner\n", r.version);
  return 0;
}

static int read_code(const char *dir, const char *name, struct ton_cell **out) {
  char path[4200];
  struct buf b;
  struct err e = {0};
  snprintf(path, sizeof(path), "%s/%s.boc", dir, name);
  buf_init(&b, REGISTRY_MAX_FILE + 1);
  int rc = registry_read_file(path, &b, &e);
  if (!rc) rc = ton_boc_parse_one(buf_ptr(&b), b.len, out, &e);
  buf_free(&b);
  if (rc) fprintf(stderr, PROG " root-data: %s: %s\n", path, e.msg);
  return rc;
}

static int owner_from_wallet(const char *keyfile, const char *kind, int testnet, struct ton_addr *a) {
  enum ton_wallet_kind k;
  struct ton_wallet w;
  uint8_t seed[32], pub[32];
  struct err e = {0};
  if (!kind || ton_wallet_kind_parse(kind, &k)) {
    fprintf(stderr, PROG " root-data: --owner-wallet-key needs --wallet v4r2|v5r1\n");
    return 2;
  }
  int rc = chain_wallet_key_load(keyfile, seed, &e);
  if (!rc && ton_sign_pubkey(seed, pub)) rc = err_set(&e, ERR_CRYPTO, "bad wallet key");
  OPENSSL_cleanse(seed, sizeof(seed));
  if (!rc && ton_wallet_init(&w, k, 0, pub, testnet)) rc = err_set(&e, ERR_INVALID, "cannot set up the wallet");
  if (!rc) rc = ton_wallet_address(&w, a, &e);
  if (rc) fprintf(stderr, PROG " root-data: %s\n", e.msg);
  return rc ? 1 : 0;
}

static int root_data_cmd(int argc, char **argv) {
  const char *file = NULL, *owner = NULL, *wkey = NULL, *wkind = NULL, *code_dir = NULL, *out = NULL;
  int testnet = 0, mainnet = 0, rc = 0;
  int64_t uid = 1, pv = 1;
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!strcmp(a, "--testnet")) testnet = 1;
    else if (!strcmp(a, "--mainnet")) mainnet = 1;
    else if (a[0] == '-' && !v) {
      fprintf(stderr, PROG " root-data: %s needs a value\n", a);
      return 2;
    } else if (!strcmp(a, "--owner-address")) owner = argv[++i];
    else if (!strcmp(a, "--owner-wallet-key")) wkey = argv[++i];
    else if (!strcmp(a, "--wallet")) wkind = argv[++i];
    else if (!strcmp(a, "--code-dir")) code_dir = argv[++i];
    else if (!strcmp(a, "--out")) out = argv[++i];
    else if (!strcmp(a, "--unique-id") || !strcmp(a, "--params-version")) {
      if (util_parse_i64(v, 0, UINT32_MAX, !strcmp(a, "--unique-id") ? &uid : &pv)) {
        fprintf(stderr, PROG " root-data: %s must be a number from 0 to 4294967295\n", a);
        return 2;
      }
      i++;
    } else if (a[0] == '-' || file) {
      fprintf(stderr, PROG " root-data: unexpected argument %s\n", a);
      return 2;
    } else file = a;
  }
  if (!file || (!owner == !wkey)) {
    fprintf(stderr, "usage: " PROG " root-data FILE (--owner-address ADDR | --owner-wallet-key KEYFILE --wallet KIND) "
                    "[--code-dir DIR] [--unique-id N] [--params-version N] [--mainnet] [--out FILE]\n");
    return 2;
  }
  static struct registry r;
  if (load_file(file, &r)) return 1;
  struct ton_addr addr;
  struct err e = {0};
  if (owner && ton_addr_parse(owner, &addr, NULL, &e)) {
    fprintf(stderr, PROG " root-data: --owner-address: %s\n", e.msg);
    return 2;
  }
  if (wkey && (rc = owner_from_wallet(wkey, wkind, testnet, &addr))) return rc;
  struct chain_root_build_opts o;
  chain_root_build_opts_init(&o, &addr);
  o.unique_id = (uint32_t)uid;
  o.params_version = (uint32_t)pv;
  o.is_test = !mainnet;
  struct ton_cell *data = NULL;
  struct buf boc;
  buf_init(&boc, (size_t)1 << 20);
  if (code_dir && (read_code(code_dir, "proxy", &o.proxy_code) || read_code(code_dir, "worker", &o.worker_code) ||
                   read_code(code_dir, "client", &o.client_code))) {
    rc = 1;
    goto done;
  }
  if (chain_root_data_from_registry(&r, &o, &data, &e) || ton_boc_serialize(data, TON_BOC_CRC, &boc, &e)) {
    fprintf(stderr, PROG " root-data: %s: %s\n", file, e.msg);
    rc = 1;
    goto done;
  }
  char hex[65], raw[TON_ADDR_RAW_MAX];
  util_hex(data->hash, 32, hex);
  ton_addr_to_raw(&addr, raw, sizeof(raw));
  printf("version: %" PRIu64 "\nowner: %s\ndata_hash: %s\n", r.version, raw, hex);
  /* With the root's own code at hand, where it will be deployed. */
  char rootboc[4200];
  snprintf(rootboc, sizeof(rootboc), "%s/root.boc", code_dir ? code_dir : "");
  if (code_dir && access(rootboc, R_OK) == 0) {
    struct ton_cell *code = NULL;
    struct ton_addr at;
    if (read_code(code_dir, "root", &code)) {
      rc = 1;
      goto done;
    }
    struct ton_state_init si = {.code = code, .data = data};
    int arc = ton_state_init_address(0, &si, &at, &e);
    ton_cell_unref(code);
    if (arc) {
      fprintf(stderr, PROG " root-data: %s\n", e.msg);
      rc = 1;
      goto done;
    }
    ton_addr_to_raw(&at, raw, sizeof(raw));
    printf("address: %s\n", raw);
  }
  if (out) {
    char tmp[4200];
    snprintf(tmp, sizeof(tmp), "%s.tmp", out);
    FILE *f = fopen(tmp, "wb");
    int ok = f && fwrite(buf_ptr(&boc), 1, boc.len, f) == boc.len;
    if (f && fclose(f) != 0) ok = 0;
    if (!ok || rename(tmp, out) != 0) {
      fprintf(stderr, PROG " root-data: cannot write %s: %s\n", out, strerror(errno));
      unlink(tmp);
      rc = 1;
      goto done;
    }
    printf("out: %s (%zu bytes)\n", out, boc.len);
  } else {
    struct buf b64;
    buf_init(&b64, (size_t)2 << 20);
    if (chain_b64_encode(buf_ptr(&boc), boc.len, &b64) || buf_append(&b64, "", 1)) rc = 1;
    else printf("data_boc64: %s\n", (const char *)buf_ptr(&b64));
    buf_free(&b64);
  }
done:
  ton_cell_unref(o.proxy_code);
  ton_cell_unref(o.worker_code);
  ton_cell_unref(o.client_code);
  ton_cell_unref(data);
  buf_free(&boc);
  return rc;
}

int registry_cmd_main(int argc, char **argv) {
  const char *c = argc >= 2 ? argv[1] : "";
  for (int i = 1; i < argc; i++)
    if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
      usage(stdout);
      return 0;
    }
  if (!strcmp(c, "init")) return init_cmd(argc, argv);
  if (!strcmp(c, "add")) return edit_cmd(argc, argv, 0);
  if (!strcmp(c, "remove")) return edit_cmd(argc, argv, 1);
  if (!strcmp(c, "sign")) return sign_cmd(argc, argv);
  if (!strcmp(c, "show")) return show_cmd(argc, argv);
  if (!strcmp(c, "verify")) return verify_cmd(argc, argv);
  if (!strcmp(c, "root-data")) return root_data_cmd(argc, argv);
  usage(stderr);
  return 2;
}
