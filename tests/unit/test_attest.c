/* test_attest: TDX quote parsing and verification: real quotes, a self-made PCK chain, refusals. */
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
#include <time.h>

#include "attest/quote.h"
#include "attest/testquote.h"
#include "attest/verify.h"
#include "base/util.h"

/* 2026-11-25 00:00:00 UTC: inside the validity of every real chain in ../shared/data/tdx (the
 * date its README's checks were run at) and the reference time of the synthetic chains. */
#define T0 INT64_C(1795564800)
#define DAY INT64_C(86400)
#define YEAR (365 * DAY)

#define BIT(c) (1u << (c))

/* ---- helpers ---- */

static uint8_t *read_all(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  size_t cap = 1 << 20, n = 0;
  uint8_t *buf = malloc(cap);
  if (buf) n = fread(buf, 1, cap - 1, f);
  fclose(f);
  if (buf) buf[n] = 0;
  *len = n;
  return buf;
}

/* Asserts that exactly the checks in fail_mask failed, and that the error names the first. */
static void expect_checks(int rc, const struct attest_verify_result *r, const struct err *e,
                          unsigned fail_mask) {
  int bad = 0;
  for (int c = 0; c < ATTEST_CHECK_COUNT; c++) {
    int want_fail = (fail_mask & BIT(c)) != 0;
    if (want_fail == r->passed[c]) {
      print_message("check %s: expected %s, got %s (%s)\n", attest_check_name((enum attest_check)c),
                    want_fail ? "FAILED" : "ok", r->passed[c] ? "ok" : "FAILED", r->detail[c]);
      bad = 1;
    }
    if (!r->passed[c]) assert_true(r->detail[c][0] != '\0');
  }
  assert_false(bad);
  if (fail_mask == 0) {
    assert_int_equal(rc, 0);
    return;
  }
  assert_int_equal(rc, ERR_REFUSED);
  int first = __builtin_ctz(fail_mask);
  const char *name = attest_check_name((enum attest_check)first);
  assert_memory_equal(e->msg, name, strlen(name));
}

static int verify_at(const uint8_t *data, size_t len, int64_t now, const uint8_t *root,
                     struct attest_verify_result *r, struct err *e) {
  struct attest_quote q;
  int rc = attest_quote_parse(data, len, &q, e);
  if (rc != 0) return rc;
  struct attest_verify_opts o = {.now = now, .root_key = root, .collateral = NULL};
  return attest_quote_verify(&q, &o, r, e);
}

/* Verifies and checks the outcome in one go. */
static void expect_verify(const uint8_t *data, size_t len, int64_t now, const uint8_t *root,
                          unsigned fail_mask) {
  struct attest_verify_result r;
  struct err e = {0};
  int rc = verify_at(data, len, now, root, &r, &e);
  assert_int_not_equal(rc, ERR_PARSE);
  expect_checks(rc, &r, &e, fail_mask);
}

/* ---- real quotes (../shared/data/tdx) ---- */

/* snprintf into a path buffer; a path that does not fit fails the test. */
#define PATHF(buf, ...) assert_true(snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

static void shared_tdx_dir(char *out, size_t outsz) {
  const char *env = getenv("COCOON_SHARED_DATA");
  if (env && env[0]) {
    snprintf(out, outsz, "%s/tdx", env);
    return;
  }
  /* The repository is what precedes tests/unit/ in this file's path. */
  const char *file = __FILE__;
  const char *tail = strstr(file, "tests/unit/test_attest.c");
  int repo_len = tail ? (int)(tail - file) : 0;
  if (repo_len == 0)
    snprintf(out, outsz, "../shared/data/tdx");
  else
    snprintf(out, outsz, "%.*s../shared/data/tdx", repo_len, file);
}

struct expect_field {
  char name[32];
  char hex[160];
};

struct expect_quote {
  char file[64];
  int version;
  int nfields;
  struct expect_field f[24];
};

/* Reads the per-quote sections of the README: "### `quote-x.bin`", "- Header: version N",
 * and the "| FIELD | `hex` |" rows of its TD report table. */
static int parse_readme(const char *text, struct expect_quote *out, int max) {
  int n = -1;
  const char *line = text;
  while (*line) {
    const char *eol = strchr(line, '\n');
    size_t ll = eol ? (size_t)(eol - line) : strlen(line);
    char buf[512];
    if (ll >= sizeof(buf)) ll = sizeof(buf) - 1;
    memcpy(buf, line, ll);
    buf[ll] = '\0';
    if (strncmp(buf, "### `", 5) == 0) {
      char *end = strchr(buf + 5, '`');
      if (end && n + 1 < max) {
        n++;
        memset(&out[n], 0, sizeof(out[n]));
        snprintf(out[n].file, sizeof(out[n].file), "%.*s", (int)(end - (buf + 5)), buf + 5);
      }
    } else if (n >= 0 && strncmp(buf, "- Header: version ", 18) == 0) {
      out[n].version = buf[18] - '0';
    } else if (n >= 0 && buf[0] == '|' && out[n].nfields < 24) {
      char name[32], hex[160];
      if (sscanf(buf, "| %31[A-Z0-9_] | `%159[0-9a-f]` |", name, hex) == 2) {
        struct expect_field *f = &out[n].f[out[n].nfields++];
        snprintf(f->name, sizeof(f->name), "%s", name);
        snprintf(f->hex, sizeof(f->hex), "%s", hex);
      }
    } else if (strncmp(buf, "## ", 3) == 0 && n >= 0) {
      break; /* the next top-level section */
    }
    line = eol ? eol + 1 : line + ll;
  }
  return n + 1;
}

static const uint8_t *td_field(const struct attest_td_report *td, const char *name, size_t *len) {
  struct {
    const char *name;
    const uint8_t *p;
    size_t len;
  } map[] = {
      {"TEE_TCB_SVN", td->tee_tcb_svn, 16},   {"MRSEAM", td->mrseam, 48},
      {"MRSIGNERSEAM", td->mrsignerseam, 48}, {"SEAMATTRIBUTES", td->seam_attributes, 8},
      {"TDATTRIBUTES", td->td_attributes, 8}, {"XFAM", td->xfam, 8},
      {"MRTD", td->mrtd, 48},                 {"MRCONFIGID", td->mrconfigid, 48},
      {"MROWNER", td->mrowner, 48},           {"MROWNERCONFIG", td->mrownerconfig, 48},
      {"RTMR0", td->rtmr[0], 48},             {"RTMR1", td->rtmr[1], 48},
      {"RTMR2", td->rtmr[2], 48},             {"RTMR3", td->rtmr[3], 48},
      {"REPORTDATA", td->report_data, 64},    {"TEE_TCB_SVN_2", td->tee_tcb_svn2, 16},
      {"MRSERVICETD", td->mrservicetd, 48},
  };
  for (size_t i = 0; i < CC_ARRAY_LEN(map); i++) {
    if (strcmp(map[i].name, name) == 0) {
      *len = map[i].len;
      return map[i].p;
    }
  }
  return NULL;
}

static void test_real_quotes(void **state) {
  (void)state;
  char dir[1024], path[1200];
  shared_tdx_dir(dir, sizeof(dir));
  PATHF(path, "%s/README.md", dir);
  size_t rlen = 0;
  char *readme = (char *)read_all(path, &rlen);
  if (!readme) {
    print_message("skipping real TDX quotes: %s not found (set COCOON_SHARED_DATA)\n", path);
    skip();
  }
  static struct expect_quote exp[16];
  int n = parse_readme(readme, exp, 16);
  free(readme);
  assert_true(n >= 1);
  for (int i = 0; i < n; i++) {
    PATHF(path, "%s/%s", dir, exp[i].file);
    size_t len = 0;
    uint8_t *data = read_all(path, &len);
    assert_non_null(data);
    struct attest_quote q;
    struct err e = {0};
    int rc = attest_quote_parse(data, len, &q, &e);
    if (rc != 0) print_message("%s: %s\n", exp[i].file, e.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(q.version, exp[i].version);
    /* Every TD report row of the README, including MRTD, RTMR0-3 and REPORTDATA. */
    int seen_core = 0;
    for (int k = 0; k < exp[i].nfields; k++) {
      size_t flen = 0;
      const uint8_t *fp = td_field(&q.td, exp[i].f[k].name, &flen);
      assert_non_null(fp);
      char hex[2 * 64 + 1];
      util_hex(fp, flen, hex);
      if (strcmp(hex, exp[i].f[k].hex) != 0)
        print_message("%s %s: got %s want %s\n", exp[i].file, exp[i].f[k].name, hex,
                      exp[i].f[k].hex);
      assert_string_equal(hex, exp[i].f[k].hex);
      if (strcmp(exp[i].f[k].name, "MRTD") == 0 || strncmp(exp[i].f[k].name, "RTMR", 4) == 0 ||
          strcmp(exp[i].f[k].name, "REPORTDATA") == 0)
        seen_core++;
    }
    assert_int_equal(seen_core, 6);

    /* At the README's check date every check passes against the pinned Intel root. */
    struct attest_verify_opts o = {.now = T0, .root_key = NULL, .collateral = NULL};
    struct attest_verify_result r;
    rc = attest_quote_verify(&q, &o, &r, &e);
    if (rc != 0) print_message("%s: %s\n", exp[i].file, e.msg);
    expect_checks(rc, &r, &e, 0);
    assert_int_equal(r.chain_certs, 3);

    /* Today: pass, or (once a certificate has expired) fail on dates alone. */
    o.now = (int64_t)time(NULL);
    rc = attest_quote_verify(&q, &o, &r, &e);
    if (rc != 0) {
      print_message("%s at the current time: %s\n", exp[i].file, e.msg);
      expect_checks(rc, &r, &e, BIT(ATTEST_CHECK_CERT_DATES));
    }
    /* After the Intel root's expiry (2049-12-31): only the dates check fails. */
    o.now = INT64_C(2524608000); /* 2050-01-01 */
    rc = attest_quote_verify(&q, &o, &r, &e);
    expect_checks(rc, &r, &e, BIT(ATTEST_CHECK_CERT_DATES));
    assert_non_null(strstr(r.detail[ATTEST_CHECK_CERT_DATES], "expired"));

    /* A flipped body byte breaks the real quote signature only. */
    uint8_t *mut = malloc(len);
    assert_non_null(mut);
    memcpy(mut, data, len);
    mut[q.signed_len - 100] ^= 1;
    expect_verify(mut, len, T0, NULL, BIT(ATTEST_CHECK_QUOTE_SIG));
    free(mut);
    print_message("real quote %s: v%u, all checks ok, %zu trailing bytes\n", exp[i].file,
                  (unsigned)q.version, q.trailing_len);
    free(data);
  }
}

/* The pinned key is the key of the Intel SGX Root CA certificate shipped with the test data. */
static void test_pinned_root_matches_intel_cert(void **state) {
  (void)state;
  char dir[1024], path[1200];
  shared_tdx_dir(dir, sizeof(dir));
  PATHF(path, "%s/intel-sgx-root-ca.pem", dir);
  FILE *f = fopen(path, "r");
  if (!f) {
    print_message("skipping: %s not found\n", path);
    skip();
  }
  X509 *c = PEM_read_X509(f, NULL, NULL, NULL);
  fclose(f);
  assert_non_null(c);
  uint8_t xy[64];
  assert_int_equal(tq_raw_xy(X509_get0_pubkey(c), xy), 0);
  assert_memory_equal(xy, attest_intel_sgx_root_key, 64);
  X509_free(c);
}

/* ---- synthetic quotes on a self-made chain ---- */

struct fixture {
  struct tq_pki pki;
};

static int setup(void **state) {
  struct fixture *fx = calloc(1, sizeof(*fx));
  if (!fx || tq_pki_make(&fx->pki, T0, T0 - DAY, T0 + YEAR) != 0) {
    free(fx);
    return -1;
  }
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  struct fixture *fx = *state;
  tq_pki_free(&fx->pki);
  free(fx);
  return 0;
}

static void test_synthetic_ok(void **state) {
  struct fixture *fx = *state;
  static const struct {
    int version, body_type;
    size_t trailing;
  } cases[] = {{4, ATTEST_BODY_TD10, 0}, {5, ATTEST_BODY_TD10, 0}, {5, ATTEST_BODY_TD15, 0},
               {4, ATTEST_BODY_TD10, 70}};
  uint8_t rd[64];
  for (size_t i = 0; i < sizeof(rd); i++) rd[i] = (uint8_t)(0xa0 + i);
  for (size_t i = 0; i < CC_ARRAY_LEN(cases); i++) {
    size_t len = 0;
    struct tq_layout lay;
    uint8_t *qb = tq_build(&fx->pki, cases[i].version, cases[i].body_type, rd, cases[i].trailing,
                           &len, &lay);
    assert_non_null(qb);
    struct attest_quote q;
    struct err e = {0};
    assert_int_equal(attest_quote_parse(qb, len, &q, &e), 0);
    assert_int_equal(q.version, cases[i].version);
    assert_int_equal(q.body_type, cases[i].body_type);
    assert_int_equal(q.trailing_len, cases[i].trailing);
    assert_int_equal(q.quote_len, lay.end);
    assert_int_equal(q.signed_len, lay.sig - 4);
    assert_int_equal(q.qe_auth_len, 32);
    assert_memory_equal(q.td.report_data, rd, 64);
    /* The body pattern lands in the right fields: MRTD starts at body offset 136. */
    assert_int_equal(q.td.mrtd[0], (uint8_t)(136 * 7 + 1));
    assert_int_equal(q.td.rtmr[3][47], (uint8_t)((136 + 8 * 48 - 1) * 7 + 1));
    if (cases[i].body_type == ATTEST_BODY_TD15)
      assert_int_equal(q.td.mrservicetd[47], (uint8_t)(647 * 7 + 1));
    /* Image hash: SHA-256 of the 8 registers (contiguous in the body) and 64 zero bytes. */
    uint8_t in[448] = {0}, want[32], got[32];
    memcpy(in, qb + lay.body + 136, 384);
    assert_non_null(SHA256(in, sizeof(in), want));
    assert_int_equal(attest_image_hash(&q.td, got), 0);
    assert_memory_equal(got, want, 32);

    expect_verify(qb, len, T0, fx->pki.root_xy, 0);
    /* Under the default (Intel) root the self-made chain is refused. */
    struct attest_verify_result r;
    expect_verify(qb, len, T0, NULL, BIT(ATTEST_CHECK_PCK_CHAIN));
    assert_int_not_equal(verify_at(qb, len, T0, NULL, &r, &e), 0);
    assert_non_null(strstr(r.detail[ATTEST_CHECK_PCK_CHAIN], "pinned root key"));
    free(qb);
  }
}

/* Flips one byte at `off` of a fresh quote and expects exactly `fail_mask`. */
static void flip_expect(struct fixture *fx, int version, size_t (*where)(const struct tq_layout *),
                        unsigned fail_mask) {
  size_t len = 0;
  struct tq_layout lay;
  uint8_t *qb = tq_build(&fx->pki, version, version == 5 ? ATTEST_BODY_TD15 : ATTEST_BODY_TD10,
                         NULL, 0, &len, &lay);
  assert_non_null(qb);
  qb[where(&lay)] ^= 0x01;
  expect_verify(qb, len, T0, fx->pki.root_xy, fail_mask);
  free(qb);
}

static size_t at_header(const struct tq_layout *l) { (void)l; return 30; /* user data */ }
static size_t at_body(const struct tq_layout *l) { return l->body + 200; }
static size_t at_report_data(const struct tq_layout *l) { return l->body + 530; }
static size_t at_sig(const struct tq_layout *l) { return l->sig + 10; }
static size_t at_sig_s(const struct tq_layout *l) { return l->sig + 40; }
static size_t at_akey(const struct tq_layout *l) { return l->akey + 63; }
static size_t at_qe_report(const struct tq_layout *l) { return l->qe_report + 64; /* mrenclave */ }
static size_t at_qe_report_data(const struct tq_layout *l) { return l->qe_report + 330; }
static size_t at_qe_report_pad(const struct tq_layout *l) { return l->qe_report + 380; }
static size_t at_qe_sig(const struct tq_layout *l) { return l->qe_sig + 5; }
static size_t at_auth(const struct tq_layout *l) { return l->auth + 3; }

static void test_flip_header(void **s) { flip_expect(*s, 4, at_header, BIT(ATTEST_CHECK_QUOTE_SIG)); }
static void test_flip_body(void **s) {
  flip_expect(*s, 4, at_body, BIT(ATTEST_CHECK_QUOTE_SIG));
  flip_expect(*s, 5, at_body, BIT(ATTEST_CHECK_QUOTE_SIG));
}
static void test_flip_report_data(void **s) {
  flip_expect(*s, 4, at_report_data, BIT(ATTEST_CHECK_QUOTE_SIG));
}
static void test_flip_quote_sig(void **s) {
  flip_expect(*s, 4, at_sig, BIT(ATTEST_CHECK_QUOTE_SIG));
  flip_expect(*s, 5, at_sig_s, BIT(ATTEST_CHECK_QUOTE_SIG));
}
/* The attestation key is bound twice: it must verify the quote and hash into the QE report. */
static void test_flip_attest_key(void **s) {
  flip_expect(*s, 4, at_akey, BIT(ATTEST_CHECK_QUOTE_SIG) | BIT(ATTEST_CHECK_QE_BINDING));
}
static void test_flip_qe_report(void **s) {
  flip_expect(*s, 4, at_qe_report, BIT(ATTEST_CHECK_QE_REPORT_SIG));
}
static void test_flip_qe_report_data(void **s) {
  flip_expect(*s, 4, at_qe_report_data,
              BIT(ATTEST_CHECK_QE_REPORT_SIG) | BIT(ATTEST_CHECK_QE_BINDING));
  flip_expect(*s, 4, at_qe_report_pad,
              BIT(ATTEST_CHECK_QE_REPORT_SIG) | BIT(ATTEST_CHECK_QE_BINDING));
}
static void test_flip_qe_sig(void **s) {
  flip_expect(*s, 4, at_qe_sig, BIT(ATTEST_CHECK_QE_REPORT_SIG));
}
static void test_flip_auth_data(void **s) {
  flip_expect(*s, 4, at_auth, BIT(ATTEST_CHECK_QE_BINDING));
  flip_expect(*s, 5, at_auth, BIT(ATTEST_CHECK_QE_BINDING));
}

/* A QE report whose binding is right but whose upper report data is not zero. */
static void test_binding_upper_half(void **state) {
  struct fixture *fx = *state;
  size_t len = 0;
  struct tq_layout lay;
  uint8_t *qb = tq_build(&fx->pki, 4, ATTEST_BODY_TD10, NULL, 0, &len, &lay);
  assert_non_null(qb);
  qb[lay.qe_report + 383] = 1;
  assert_int_equal(tq_sign_raw(fx->pki.leaf_key, qb + lay.qe_report, ATTEST_QE_REPORT_LEN,
                               qb + lay.qe_sig), 0);
  struct attest_verify_result r;
  struct err e = {0};
  expect_verify(qb, len, T0, fx->pki.root_xy, BIT(ATTEST_CHECK_QE_BINDING));
  assert_int_not_equal(verify_at(qb, len, T0, fx->pki.root_xy, &r, &e), 0);
  assert_non_null(strstr(r.detail[ATTEST_CHECK_QE_BINDING], "32..63"));
  free(qb);
}

/* An attestation key that is not a curve point fails the quote signature check by name. */
static void test_attest_key_off_curve(void **state) {
  struct fixture *fx = *state;
  size_t len = 0;
  struct tq_layout lay;
  uint8_t *qb = tq_build(&fx->pki, 4, ATTEST_BODY_TD10, NULL, 0, &len, &lay);
  assert_non_null(qb);
  memset(qb + lay.akey, 0x11, 64);
  struct attest_verify_result r;
  struct err e = {0};
  assert_int_equal(verify_at(qb, len, T0, fx->pki.root_xy, &r, &e), ERR_REFUSED);
  assert_false(r.passed[ATTEST_CHECK_QUOTE_SIG]);
  assert_non_null(strstr(r.detail[ATTEST_CHECK_QUOTE_SIG], "not a P-256 point"));
  assert_false(r.passed[ATTEST_CHECK_QE_BINDING]);
  assert_true(r.passed[ATTEST_CHECK_QE_REPORT_SIG] && r.passed[ATTEST_CHECK_PCK_CHAIN]);
  free(qb);
}

/* A complete, well-formed chain that ends in another root. */
static void test_chain_other_root(void **state) {
  struct fixture *fx = *state;
  struct tq_pki other;
  assert_int_equal(tq_pki_make(&other, T0, T0 - DAY, T0 + YEAR), 0);
  size_t len = 0;
  uint8_t *qb = tq_build(&other, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  expect_verify(qb, len, T0, fx->pki.root_xy, BIT(ATTEST_CHECK_PCK_CHAIN));
  expect_verify(qb, len, T0, other.root_xy, 0);
  free(qb);

  /* The pinned root is present, but the PCK CA was signed by another root. */
  X509 *spliced[3] = {other.leaf, other.ca, fx->pki.root};
  qb = tq_build_chain(other.leaf_key, spliced, 3, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  expect_verify(qb, len, T0, fx->pki.root_xy, BIT(ATTEST_CHECK_PCK_CHAIN));
  free(qb);

  /* The chain without its root certificate cannot reach the pinned key. */
  X509 *noroot[2] = {fx->pki.leaf, fx->pki.ca};
  qb = tq_build_chain(fx->pki.leaf_key, noroot, 2, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  expect_verify(qb, len, T0, fx->pki.root_xy, BIT(ATTEST_CHECK_PCK_CHAIN));
  free(qb);

  /* The QE report signed by a key other than the PCK leaf's. */
  X509 *chain[3] = {fx->pki.leaf, fx->pki.ca, fx->pki.root};
  qb = tq_build_chain(other.leaf_key, chain, 3, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  expect_verify(qb, len, T0, fx->pki.root_xy, BIT(ATTEST_CHECK_QE_REPORT_SIG));
  free(qb);
  tq_pki_free(&other);
}

/* The root itself as the "PCK certificate" is refused even though it signs everything. */
static void test_chain_root_as_leaf(void **state) {
  struct fixture *fx = *state;
  X509 *chain[1] = {fx->pki.root};
  size_t len = 0;
  uint8_t *qb = tq_build_chain(fx->pki.root_key, chain, 1, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  expect_verify(qb, len, T0, fx->pki.root_xy, BIT(ATTEST_CHECK_PCK_CHAIN));
  /* A CA certificate as the leaf. */
  X509 *ca_leaf[2] = {fx->pki.ca, fx->pki.root};
  free(qb);
  qb = tq_build_chain(fx->pki.ca_key, ca_leaf, 2, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  expect_verify(qb, len, T0, fx->pki.root_xy, BIT(ATTEST_CHECK_PCK_CHAIN));
  free(qb);
}

static void test_cert_dates(void **state) {
  (void)state;
  struct tq_pki p;
  /* Leaf valid one year from T0 - 1 day. */
  assert_int_equal(tq_pki_make(&p, T0, T0 - DAY, T0 + YEAR), 0);
  size_t len = 0;
  uint8_t *qb = tq_build(&p, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  struct attest_verify_result r;
  struct err e = {0};
  /* Expired leaf: dates fail, the chain itself is still genuine. */
  expect_verify(qb, len, T0 + 2 * YEAR, p.root_xy, BIT(ATTEST_CHECK_CERT_DATES));
  assert_int_equal(verify_at(qb, len, T0 + 2 * YEAR, p.root_xy, &r, &e), ERR_REFUSED);
  assert_non_null(strstr(r.detail[ATTEST_CHECK_CERT_DATES], "certificate 0"));
  assert_non_null(strstr(r.detail[ATTEST_CHECK_CERT_DATES], "expired"));
  assert_non_null(strstr(e.msg, "cert_validity"));
  /* Not yet valid. */
  assert_int_equal(verify_at(qb, len, T0 - 2 * DAY, p.root_xy, &r, &e), ERR_REFUSED);
  expect_checks(ERR_REFUSED, &r, &e, BIT(ATTEST_CHECK_CERT_DATES));
  assert_non_null(strstr(r.detail[ATTEST_CHECK_CERT_DATES], "not valid before"));
  /* Root and PCK CA expire at T0 + 20 years. */
  assert_int_equal(verify_at(qb, len, T0 + 21 * YEAR, p.root_xy, &r, &e), ERR_REFUSED);
  expect_checks(ERR_REFUSED, &r, &e, BIT(ATTEST_CHECK_CERT_DATES));
  /* Inside the window: the intersection of the validities is reported. */
  assert_int_equal(verify_at(qb, len, T0, p.root_xy, &r, &e), 0);
  assert_true(r.certs_not_before == T0 - DAY);
  assert_true(r.certs_not_after == T0 + YEAR);
  free(qb);
  tq_pki_free(&p);
}

static void test_chain_limits(void **state) {
  struct fixture *fx = *state;
  size_t len = 0;
  /* Five certificates is over ATTEST_PCK_CHAIN_MAX. */
  X509 *five[5] = {fx->pki.leaf, fx->pki.ca, fx->pki.root, fx->pki.root, fx->pki.root};
  uint8_t *qb = tq_build_chain(fx->pki.leaf_key, five, 5, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  expect_verify(qb, len, T0, fx->pki.root_xy,
                BIT(ATTEST_CHECK_QE_REPORT_SIG) | BIT(ATTEST_CHECK_PCK_CHAIN) |
                    BIT(ATTEST_CHECK_CERT_DATES));
  free(qb);

  /* A corrupted certificate inside the PEM. */
  struct tq_layout lay;
  qb = tq_build(&fx->pki, 4, ATTEST_BODY_TD10, NULL, 0, &len, &lay);
  assert_non_null(qb);
  qb[lay.pem + 100] = '*';
  struct attest_verify_result r;
  struct err e = {0};
  assert_int_equal(verify_at(qb, len, T0, fx->pki.root_xy, &r, &e), ERR_REFUSED);
  assert_false(r.passed[ATTEST_CHECK_PCK_CHAIN]);
  assert_false(r.passed[ATTEST_CHECK_QE_REPORT_SIG]);
  assert_true(r.passed[ATTEST_CHECK_QUOTE_SIG]);
  /* No PEM at all. */
  memset(qb + lay.pem, 'x', lay.pem_len);
  assert_int_equal(verify_at(qb, len, T0, fx->pki.root_xy, &r, &e), ERR_REFUSED);
  assert_non_null(strstr(r.detail[ATTEST_CHECK_PCK_CHAIN], "no certificate"));
  free(qb);
}

/* A PCK leaf on P-384 is refused (TDX PCK keys are P-256). */
static void test_leaf_not_p256(void **state) {
  (void)state;
  struct tq_pki p;
  assert_int_equal(tq_pki_make(&p, T0, T0 - DAY, T0 + YEAR), 0);
  EVP_PKEY *k384 = EVP_EC_gen("P-384");
  assert_non_null(k384);
  X509 *leaf = tq_cert("P-384 leaf", k384, p.ca, p.ca_key, 0, T0 - DAY, T0 + YEAR, 9);
  assert_non_null(leaf);
  X509 *chain[3] = {leaf, p.ca, p.root};
  size_t len = 0;
  /* The QE report is signed with a P-256 key: the refusal must come from the leaf's curve. */
  uint8_t *qb = tq_build_chain(p.leaf_key, chain, 3, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  struct attest_verify_result r;
  struct err e = {0};
  assert_int_equal(verify_at(qb, len, T0, p.root_xy, &r, &e), ERR_REFUSED);
  assert_false(r.passed[ATTEST_CHECK_QE_REPORT_SIG]);
  assert_non_null(strstr(r.detail[ATTEST_CHECK_QE_REPORT_SIG], "not P-256"));
  free(qb);
  X509_free(leaf);
  EVP_PKEY_free(k384);
  tq_pki_free(&p);
}

static void test_collateral_refused(void **state) {
  struct fixture *fx = *state;
  size_t len = 0;
  uint8_t *qb = tq_build(&fx->pki, 4, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(qb);
  struct attest_quote q;
  struct err e = {0};
  assert_int_equal(attest_quote_parse(qb, len, &q, &e), 0);
  struct attest_collateral col = {0};
  struct attest_verify_opts o = {.now = T0, .root_key = fx->pki.root_xy, .collateral = &col};
  struct attest_verify_result r;
  /* An empty collateral is refused, never silently ignored. */
  assert_int_equal(attest_quote_verify(&q, &o, &r, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "collateral"));
  assert_false(r.passed[ATTEST_CHECK_COLLATERAL]);
  free(qb);
}

/* ---- parsing refusals ---- */

static void put16(uint8_t *p, unsigned v) { tq_put16(p, v); }
static void put32(uint8_t *p, uint32_t v) { tq_put32(p, v); }

static void expect_parse_fail(const uint8_t *p, size_t n, const char *field) {
  struct attest_quote q;
  struct err e = {0};
  int rc = attest_quote_parse(p, n, &q, &e);
  assert_true(rc == ERR_PARSE || rc == ERR_LIMIT);
  if (!strstr(e.msg, field)) print_message("error '%s' lacks '%s'\n", e.msg, field);
  assert_non_null(strstr(e.msg, field));
}

static void test_parse_refusals(void **state) {
  struct fixture *fx = *state;
  size_t len = 0;
  struct tq_layout lay;
  uint8_t *good = tq_build(&fx->pki, 5, ATTEST_BODY_TD15, NULL, 0, &len, &lay);
  assert_non_null(good);
  uint8_t *m = malloc(len + 1);
  assert_non_null(m);
#define RESET() memcpy(m, good, len)
  RESET(); put16(m, 3);
  expect_parse_fail(m, len, "header.version");
  RESET(); put16(m + 2, 3);
  expect_parse_fail(m, len, "header.att_key_type");
  RESET(); put32(m + 4, 0); /* SGX */
  expect_parse_fail(m, len, "header.tee_type");
  RESET(); put16(m + 48, 1); /* SGX enclave report body */
  expect_parse_fail(m, len, "body.type");
  RESET(); put32(m + 50, ATTEST_TD10_BODY_LEN);
  expect_parse_fail(m, len, "body.size");
  size_t sig_size_at = lay.sig - 4, cert6_at = lay.akey + 64, cert5_at = lay.auth + 32;
  RESET(); put32(m + sig_size_at, (uint32_t)(lay.end - lay.sig + 1));
  expect_parse_fail(m, len, "signature_data");
  /* Signature data one byte longer than its content, with the byte present. */
  memcpy(m, good, len);
  m[len] = 0;
  put32(m + sig_size_at, (uint32_t)(lay.end - lay.sig + 1));
  expect_parse_fail(m, len + 1, "signature_data has 1 unexplained");
  RESET(); put16(m + cert6_at, 5);
  expect_parse_fail(m, len, "signature_data.cert_data.type");
  RESET(); put32(m + cert6_at + 2, 0xffffffffu);
  expect_parse_fail(m, len, "signature_data.cert_data");
  RESET(); put32(m + cert6_at + 2, (uint32_t)(lay.end - lay.qe_report - 1));
  expect_parse_fail(m, len, "qe_cert_data");
  RESET(); put16(m + lay.qe_sig + 64, 0xffff);
  expect_parse_fail(m, len, "qe_cert_data.qe_auth_data");
  RESET(); put16(m + cert5_at, 4);
  expect_parse_fail(m, len, "qe_cert_data.cert_data.type");
  RESET(); put32(m + cert5_at + 2, 0);
  expect_parse_fail(m, len, "qe_cert_data.cert_data");
  RESET(); put32(m + cert5_at + 2, (uint32_t)lay.pem_len - 1);
  expect_parse_fail(m, len, "unexplained bytes after the PCK chain");
#undef RESET
  free(m);
  /* Over the size limit. */
  uint8_t *big = calloc(1, ATTEST_QUOTE_MAX + 1);
  assert_non_null(big);
  memcpy(big, good, len);
  struct attest_quote q;
  struct err e = {0};
  assert_int_equal(attest_quote_parse(big, ATTEST_QUOTE_MAX + 1, &q, &e), ERR_LIMIT);
  assert_int_equal(attest_quote_parse(big, ATTEST_QUOTE_MAX, &q, &e), 0); /* padding allowed */
  assert_int_equal(q.trailing_len, ATTEST_QUOTE_MAX - len);
  free(big);
  assert_int_equal(attest_quote_parse(NULL, 0, &q, &e), ERR_PARSE);
  free(good);
}

/* Every proper prefix of a valid quote fails to parse, and never reads past its end (each
 * prefix lives in an exact-size allocation so ASan sees any overread). */
static void test_truncation(void **state) {
  struct fixture *fx = *state;
  static const int kinds[][2] = {{4, ATTEST_BODY_TD10}, {5, ATTEST_BODY_TD10}, {5, ATTEST_BODY_TD15}};
  for (size_t k = 0; k < CC_ARRAY_LEN(kinds); k++) {
    size_t len = 0;
    uint8_t *good = tq_build(&fx->pki, kinds[k][0], kinds[k][1], NULL, 0, &len, NULL);
    assert_non_null(good);
    for (size_t n = 0; n < len; n++) {
      uint8_t *p = malloc(n ? n : 1);
      assert_non_null(p);
      memcpy(p, good, n);
      struct attest_quote q;
      struct err e = {0};
      int rc = attest_quote_parse(n ? p : NULL, n, &q, &e);
      if (rc != ERR_PARSE) print_message("prefix %zu of %zu parsed (rc %d)\n", n, len, rc);
      assert_int_equal(rc, ERR_PARSE);
      assert_non_null(strstr(e.msg, "quote:"));
      free(p);
    }
    expect_verify(good, len, T0, fx->pki.root_xy, 0);
    free(good);
  }
}

/* With COCOON_WRITE_QUOTE_CORPUS=DIR, writes the synthetic fuzz seeds there (how
 * tests/fuzz/corpus/quote/ was made). */
static void write_seed(const char *dir, const char *name, const uint8_t *p, size_t n) {
  char path[1200];
  PATHF(path, "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void test_write_corpus(void **state) {
  struct fixture *fx = *state;
  const char *dir = getenv("COCOON_WRITE_QUOTE_CORPUS");
  size_t len = 0;
  struct tq_layout lay;
  uint8_t *q = tq_build(&fx->pki, 4, ATTEST_BODY_TD10, NULL, 0, &len, &lay);
  assert_non_null(q);
  write_seed(dir, "v4-td10", q, len);
  q[lay.qe_sig + 64 + 1] = 0x7f; /* auth data size way past the end */
  write_seed(dir, "v4-bad-auth-size", q, len);
  write_seed(dir, "v4-truncated", q, lay.qe_report + 100);
  free(q);
  q = tq_build(&fx->pki, 5, ATTEST_BODY_TD10, NULL, 0, &len, NULL);
  assert_non_null(q);
  write_seed(dir, "v5-td10", q, len);
  free(q);
  q = tq_build(&fx->pki, 5, ATTEST_BODY_TD15, NULL, 0, &len, NULL);
  assert_non_null(q);
  write_seed(dir, "v5-td15", q, len);
  free(q);
  q = tq_build(&fx->pki, 4, ATTEST_BODY_TD10, NULL, 40, &len, NULL);
  assert_non_null(q);
  write_seed(dir, "v4-trailing", q, len);
  free(q);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_real_quotes),
      cmocka_unit_test(test_pinned_root_matches_intel_cert),
      cmocka_unit_test_setup_teardown(test_synthetic_ok, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_header, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_body, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_report_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_quote_sig, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_attest_key, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_qe_report, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_qe_report_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_qe_sig, setup, teardown),
      cmocka_unit_test_setup_teardown(test_flip_auth_data, setup, teardown),
      cmocka_unit_test_setup_teardown(test_binding_upper_half, setup, teardown),
      cmocka_unit_test_setup_teardown(test_attest_key_off_curve, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chain_other_root, setup, teardown),
      cmocka_unit_test_setup_teardown(test_chain_root_as_leaf, setup, teardown),
      cmocka_unit_test(test_cert_dates),
      cmocka_unit_test_setup_teardown(test_chain_limits, setup, teardown),
      cmocka_unit_test(test_leaf_not_p256),
      cmocka_unit_test_setup_teardown(test_collateral_refused, setup, teardown),
      cmocka_unit_test_setup_teardown(test_parse_refusals, setup, teardown),
      cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
  };
  const struct CMUnitTest corpus[] = {
      cmocka_unit_test_setup_teardown(test_write_corpus, setup, teardown),
  };
  const char *dir = getenv("COCOON_WRITE_QUOTE_CORPUS");
  if (dir && dir[0]) return cmocka_run_group_tests(corpus, NULL, NULL);
  return cmocka_run_group_tests(tests, NULL, NULL);
}
