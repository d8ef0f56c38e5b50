/* test_collateral: TCB info / QE identity / CRL verification and the TDX TCB status. */
/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "attest/collateral.h"
#include "attest/pck.h"
#include "attest/policy.h"
#include "attest/provider.h"
#include "attest/pkix.h"
#include "attest/quote.h"
#include "attest/testcollateral.h"
#include "attest/verify.h"
#include "base/util.h"

#define T0 INT64_C(1795564800) /* 2026-11-25 */
#define DAY INT64_C(86400)
#define YEAR (365 * DAY)

static const uint8_t FMSPC[6] = {0x90, 0xc0, 0x6f, 0, 0, 0};
static const uint8_t PCEID[2] = {0, 0};
static const uint8_t COMPS[16] = {3, 3, 2, 2, 4, 1, 0, 5, 0, 0, 0, 0, 0, 0, 0, 0};

struct fx {
  struct tq_pki pki;
  EVP_PKEY *tcb_key, *other_key;
  X509 *tcb_cert;
  uint8_t *quote;
  size_t quote_len;
  struct attest_quote q;
  struct tc_tcb tcb;
  struct tc_qe qe;
  X509 *root_revoked[2], *pck_revoked[1];
  int n_root_revoked, n_pck_revoked;
  EVP_PKEY *root_crl_key, *tcb_sign_key; /* who signs (tests swap in other_key) */
  int64_t crl_next;
  X509 *sign_chain_leaf;                 /* the certificate heading the TCB signing chain */
};

static int setup(void **state) {
  struct fx *f = calloc(1, sizeof(*f));
  assert_non_null(f);
  assert_int_equal(tq_pki_make(&f->pki, T0, T0 - YEAR, T0 + YEAR), 0);
  assert_int_equal(tc_pck_add_sgx(&f->pki, FMSPC, PCEID, COMPS, 13), 0);
  f->quote = tq_build(&f->pki, 4, ATTEST_BODY_TD10, NULL, 0, &f->quote_len, NULL);
  assert_non_null(f->quote);
  struct err e = {0};
  assert_int_equal(attest_quote_parse(f->quote, f->quote_len, &f->q, &e), 0);
  f->tcb_key = EVP_EC_gen("P-256");
  f->other_key = EVP_EC_gen("P-256");
  assert_non_null(f->tcb_key);
  f->tcb_cert = tq_cert("Test SGX TCB Signing", f->tcb_key, f->pki.root, f->pki.root_key, 0,
                        T0 - YEAR, T0 + YEAR, 10);
  assert_non_null(f->tcb_cert);
  const struct attest_td_report *td = &f->q.td;
  struct tc_tcb *t = &f->tcb;
  t->issue = T0 - DAY;
  t->next = T0 + 30 * DAY;
  memcpy(t->fmspc, FMSPC, 6);
  memcpy(t->pce_id, PCEID, 2);
  t->module_major = td->tee_tcb_svn[1];
  memcpy(t->module_mrsigner, td->mrsignerseam, 48);
  memcpy(t->module_attributes, td->seam_attributes, 8);
  t->module_isvsvn = td->tee_tcb_svn[0];
  t->n_levels = 2;
  memcpy(t->levels[0].sgx, COMPS, 16);
  memcpy(t->levels[0].tdx, td->tee_tcb_svn, 16);
  t->levels[0].pcesvn = 13;
  t->levels[0].status = "UpToDate";
  t->levels[1].status = "OutOfDate";
  struct tc_qe *qe = &f->qe;
  qe->issue = T0 - DAY;
  qe->next = T0 + 30 * DAY;
  memcpy(qe->mrsigner, f->q.qe_report.mrsigner, 32);
  memcpy(qe->attributes, f->q.qe_report.attributes, 16);
  qe->miscselect = f->q.qe_report.miscselect;
  qe->isvprodid = f->q.qe_report.isv_prod_id;
  qe->isvsvn_uptodate = f->q.qe_report.isv_svn;
  f->root_crl_key = f->pki.root_key;
  f->tcb_sign_key = f->tcb_key;
  f->crl_next = T0 + 30 * DAY;
  f->sign_chain_leaf = f->tcb_cert;
  *state = f;
  return 0;
}

static int teardown(void **state) {
  struct fx *f = *state;
  free(f->quote);
  X509_free(f->tcb_cert);
  EVP_PKEY_free(f->tcb_key);
  EVP_PKEY_free(f->other_key);
  tq_pki_free(&f->pki);
  free(f);
  return 0;
}

/* Builds the collateral from f and verifies the quote with it at T0. */
static int run(struct fx *f, struct attest_verify_result *r, struct err *e) {
  size_t tl = 0, ql = 0, pl = 0, rl = 0, cl = 0;
  char *tcb = tc_tcb_info(&f->tcb, f->tcb_sign_key, &tl);
  char *qe = tc_qe_identity(&f->qe, f->tcb_sign_key, &ql);
  X509 *chain[2] = {f->sign_chain_leaf, f->pki.root};
  char *pem = tq_pem(chain, 2, &pl);
  uint8_t *rcrl = tc_crl(f->pki.root, f->root_crl_key, T0 - DAY, f->crl_next, f->root_revoked,
                         f->n_root_revoked, &rl);
  uint8_t *pcrl = tc_crl(f->pki.ca, f->pki.ca_key, T0 - DAY, f->crl_next, f->pck_revoked,
                         f->n_pck_revoked, &cl);
  assert_non_null(tcb);
  assert_non_null(qe);
  assert_non_null(pem);
  assert_non_null(rcrl);
  assert_non_null(pcrl);
  struct attest_collateral c = {tcb, tl, qe, ql, pem, pl, rcrl, rl, pcrl, cl};
  struct attest_verify_opts o = {.now = T0, .root_key = f->pki.root_xy, .collateral = &c};
  int rc = attest_quote_verify(&f->q, &o, r, e);
  free(tcb);
  free(qe);
  free(pem);
  OPENSSL_free(rcrl);
  OPENSSL_free(pcrl);
  return rc;
}

static void expect_status(struct fx *f, enum attest_tcb_status want) {
  struct attest_verify_result r;
  struct err e = {0};
  int rc = run(f, &r, &e);
  if (rc != 0) fail_msg("verify failed: %s", e.msg);
  assert_true(r.collateral_given);
  assert_int_equal(r.tcb_status, want);
  assert_int_equal(r.collateral_expires, f->crl_next < f->tcb.next ? f->crl_next : f->tcb.next);
}

static void expect_refused(struct fx *f, const char *needle) {
  struct attest_verify_result r;
  struct err e = {0};
  assert_int_not_equal(run(f, &r, &e), 0);
  assert_false(r.passed[ATTEST_CHECK_COLLATERAL]);
  if (!strstr(r.detail[ATTEST_CHECK_COLLATERAL], needle))
    fail_msg("collateral detail '%s' lacks '%s'", r.detail[ATTEST_CHECK_COLLATERAL], needle);
  assert_non_null(strstr(e.msg, "collateral"));
}

static void test_up_to_date(void **s) { expect_status(*s, ATTEST_TCB_UP_TO_DATE); }

static void test_platform_out_of_date(void **s) {
  struct fx *f = *s;
  f->tcb.levels[0].sgx[4]++; /* the platform's component 5 is below level 0 */
  expect_status(f, ATTEST_TCB_OUT_OF_DATE);
}

static void test_pcesvn_out_of_date(void **s) {
  struct fx *f = *s;
  f->tcb.levels[0].pcesvn = 14;
  expect_status(f, ATTEST_TCB_OUT_OF_DATE);
}

static void test_tdx_component_out_of_date(void **s) {
  struct fx *f = *s;
  f->tcb.levels[0].tdx[5]++;
  f->tcb.levels[1].status = "SWHardeningNeeded";
  expect_status(f, ATTEST_TCB_SW_HARDENING_NEEDED);
}

static void test_qe_out_of_date_converges(void **s) {
  struct fx *f = *s;
  f->qe.isvsvn_uptodate = (uint16_t)(f->q.qe_report.isv_svn + 1);
  expect_status(f, ATTEST_TCB_OUT_OF_DATE);
}

static void test_qe_out_of_date_configuration(void **s) {
  struct fx *f = *s;
  f->qe.isvsvn_uptodate = (uint16_t)(f->q.qe_report.isv_svn + 1);
  f->tcb.levels[0].status = "ConfigurationNeeded";
  expect_status(f, ATTEST_TCB_OUT_OF_DATE_CONFIGURATION_NEEDED);
}

static void test_pck_revoked(void **s) {
  struct fx *f = *s;
  f->pck_revoked[0] = f->pki.leaf;
  f->n_pck_revoked = 1;
  expect_status(f, ATTEST_TCB_REVOKED);
}

static void test_pck_ca_revoked(void **s) {
  struct fx *f = *s;
  f->root_revoked[0] = f->pki.ca;
  f->n_root_revoked = 1;
  expect_status(f, ATTEST_TCB_REVOKED);
}

static void test_level_revoked(void **s) {
  struct fx *f = *s;
  f->tcb.levels[0].status = "Revoked";
  expect_status(f, ATTEST_TCB_REVOKED);
}

static void test_bad_tcb_signature(void **s) {
  struct fx *f = *s;
  f->tcb_sign_key = f->other_key; /* signed by a key that is not the TCB signing cert's */
  expect_refused(f, "signature does not verify");
}

static void test_signing_chain_not_to_root(void **s) {
  struct fx *f = *s;
  X509 *rogue = tq_cert("Rogue TCB Signing", f->tcb_key, f->pki.ca, f->pki.ca_key, 0, T0 - YEAR,
                        T0 + YEAR, 11);
  assert_non_null(rogue);
  f->sign_chain_leaf = rogue; /* issued by the PCK CA, which is not in the chain given */
  expect_refused(f, "TCB signing chain");
  X509_free(rogue);
}

static void test_tcb_info_expired(void **s) {
  struct fx *f = *s;
  f->tcb.next = T0 - 1;
  expect_refused(f, "TCB info expired");
}

static void test_qe_identity_expired(void **s) {
  struct fx *f = *s;
  f->qe.next = T0 - 1;
  expect_refused(f, "QE identity expired");
}

static void test_crl_expired(void **s) {
  struct fx *f = *s;
  f->crl_next = T0 - 1;
  expect_refused(f, "CRL expired");
}

static void test_crl_wrong_signer(void **s) {
  struct fx *f = *s;
  f->root_crl_key = f->other_key;
  expect_refused(f, "root CA CRL is not signed");
}

static void test_fmspc_mismatch(void **s) {
  struct fx *f = *s;
  f->tcb.fmspc[0] ^= 1;
  expect_refused(f, "another FMSPC");
}

static void test_qe_mrsigner_mismatch(void **s) {
  struct fx *f = *s;
  f->qe.mrsigner[3] ^= 1;
  expect_refused(f, "does not match the QE identity");
}

static void test_qe_prodid_mismatch(void **s) {
  struct fx *f = *s;
  f->qe.isvprodid++;
  expect_refused(f, "does not match the QE identity");
}

static void test_module_mismatch(void **s) {
  struct fx *f = *s;
  f->tcb.module_mrsigner[0] ^= 1;
  expect_refused(f, "TDX module does not match");
}

static void test_below_every_level(void **s) {
  struct fx *f = *s;
  f->tcb.n_levels = 1;
  f->tcb.levels[0].pcesvn = 99;
  expect_refused(f, "below every level");
}

/* The collateral is only looked at for a genuine chain. */
static void test_not_evaluated_for_bad_chain(void **s) {
  struct fx *f = *s;
  uint8_t other[64];
  memcpy(other, f->pki.root_xy, 64);
  struct attest_verify_result r;
  struct err e = {0};
  size_t tl = 0, ql = 0, pl = 0;
  char *tcb = tc_tcb_info(&f->tcb, f->tcb_key, &tl);
  char *qe = tc_qe_identity(&f->qe, f->tcb_key, &ql);
  X509 *chain[2] = {f->tcb_cert, f->pki.root};
  char *pem = tq_pem(chain, 2, &pl);
  struct attest_collateral c = {tcb, tl, qe, ql, pem, pl, NULL, 0, NULL, 0};
  EVP_PKEY *k = EVP_EC_gen("P-256");
  assert_int_equal(tq_raw_xy(k, other), 0);
  struct attest_verify_opts o = {.now = T0, .root_key = other, .collateral = &c};
  assert_int_not_equal(attest_quote_verify(&f->q, &o, &r, &e), 0);
  assert_false(r.passed[ATTEST_CHECK_COLLATERAL]);
  assert_non_null(strstr(r.detail[ATTEST_CHECK_COLLATERAL], "PCK chain did not verify"));
  EVP_PKEY_free(k);
  free(tcb);
  free(qe);
  free(pem);
}

static void test_no_collateral(void **s) {
  struct fx *f = *s;
  struct attest_verify_result r;
  struct err e = {0};
  struct attest_verify_opts o = {.now = T0, .root_key = f->pki.root_xy, .collateral = NULL};
  assert_int_equal(attest_quote_verify(&f->q, &o, &r, &e), 0);
  assert_false(r.collateral_given);
  assert_int_equal(r.tcb_status, ATTEST_TCB_NOT_EVALUATED);
}

/* DCAP's root key id of Intel's root: COCOON's default collateral root hash 46e403bd...993. */
static void test_intel_root_hash(void **s) {
  struct fx *f = *s;
  struct attest_verify_result r;
  struct err e = {0};
  struct attest_verify_opts o = {.now = T0, .root_key = NULL, .collateral = NULL};
  /* Fails (a test chain under Intel's root); the root hash is set all the same. */
  assert_int_not_equal(attest_quote_verify(&f->q, &o, &r, &e), 0);
  char hex[97];
  util_hex(r.collateral_root_hash, 48, hex);
  assert_string_equal(hex, "46e403bd34f05a3f2817ab9badcaacc7ffc98e0f261008cd30dae936cace18d5"
                           "dcf58eef31463613de1570d516200993");
}

static void test_pck_ext_from_test_cert(void **s) {
  struct fx *f = *s;
  struct attest_pck_info p;
  struct err e = {0};
  assert_int_equal(attest_pck_info_from_cert(f->pki.leaf, &p, &e), 0);
  assert_memory_equal(p.fmspc, FMSPC, 6);
  assert_memory_equal(p.comp_svn, COMPS, 16);
  assert_memory_equal(p.cpusvn, COMPS, 16);
  assert_int_equal(p.pcesvn, 13);
  /* Every truncation of the DER is refused, never read past. */
  uint8_t der[1024];
  size_t n = tc_sgx_ext(FMSPC, PCEID, COMPS, 13, der);
  for (size_t cut = 0; cut < n; cut++)
    assert_int_not_equal(attest_pck_ext_parse(der, cut, &p, &e), 0);
  assert_int_equal(attest_pck_ext_parse(der, n, &p, &e), 0);
}

/* The real PCK certificates of ../shared/data/tdx: FMSPC, PCESVN and CPUSVN as its README lists
 * for quote-cocoon.bin. Skips without the folder. */
static void test_real_pck_extension(void **s) {
  (void)s;
  char path[1024];
  const char *env = getenv("COCOON_SHARED_DATA");
  const char *file = __FILE__, *tail = strstr(file, "tests/unit/test_collateral.c");
  if (env && env[0])
    snprintf(path, sizeof(path), "%s/tdx/quote-cocoon.bin", env);
  else
    snprintf(path, sizeof(path), "%.*s../shared/data/tdx/quote-cocoon.bin",
             tail ? (int)(tail - file) : 0, file);
  FILE *fp = fopen(path, "rb");
  if (!fp) {
    print_message("skipped: %s not present\n", path);
    return;
  }
  static uint8_t buf[ATTEST_QUOTE_MAX];
  size_t n = fread(buf, 1, sizeof(buf), fp);
  fclose(fp);
  struct attest_quote q;
  struct err e = {0};
  assert_int_equal(attest_quote_parse(buf, n, &q, &e), 0);
  X509 *certs[4] = {0};
  char why[200];
  int nc = attest_pkix_read_pem(q.pck_chain_pem, q.pck_chain_len, certs, 4, why, sizeof(why));
  assert_true(nc >= 2);
  struct attest_pck_info p;
  assert_int_equal(attest_pck_info_from_cert(certs[0], &p, &e), 0);
  char hex[33];
  util_hex(p.fmspc, 6, hex);
  assert_string_equal(hex, "90c06f000000");
  util_hex(p.cpusvn, 16, hex);
  assert_string_equal(hex, "03030202040100050000000000000000");
  assert_int_equal(p.pcesvn, 13);
  for (int i = 0; i < nc; i++) X509_free(certs[i]);
}

static void test_parse_refusals(void **s) {
  (void)s;
  struct attest_tcb_info *t = calloc(1, sizeof(*t));
  struct attest_qe_identity *q = calloc(1, sizeof(*q));
  struct err e = {0};
  const char *sig = "\"signature\":\"" "00000000000000000000000000000000000000000000000000000000000000000"
                    "000000000000000000000000000000000000000000000000000000000000000\"";
  char doc[1024];
  struct {
    const char *body, *needle;
  } cases[] = {
      {"{\"id\":\"SGX\",\"version\":3}", "id is not"},
      {"{\"id\":\"TDX\",\"version\":2}", "version 2 is not supported"},
      {"{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"yesterday\"}", "issueDate"},
      {"{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"2026-01-01T00:00:00Z\",\"nextUpdate\":"
       "\"2026-02-01T00:00:00Z\",\"fmspc\":\"90c06f\"}", "fmspc"},
      {"{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"2026-01-01T00:00:00Z\",\"nextUpdate\":"
       "\"2026-02-01T00:00:00Z\",\"fmspc\":\"90c06f000000\",\"pceId\":\"0000\","
       "\"tcbEvaluationDataNumber\":1,\"tcbLevels\":[]}", "tcbLevels"},
      {"{\"id\":\"TDX\",\"version\":3,\"issueDate\":\"2026-01-01T00:00:00Z\",\"nextUpdate\":"
       "\"2026-02-01T00:00:00Z\",\"fmspc\":\"90c06f000000\",\"pceId\":\"0000\","
       "\"tcbEvaluationDataNumber\":1,\"tcbLevels\":[{\"tcb\":{\"sgxtcbcomponents\":[]}}]}",
       "sgxtcbcomponents"},
      {"{\"id\":\"TDX\",\"id\":\"TDX\"}", "duplicate"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    snprintf(doc, sizeof(doc), "{\"tcbInfo\":%s,%s}", cases[i].body, sig);
    assert_int_not_equal(attest_tcb_info_parse(doc, strlen(doc), t, &e), 0);
    if (!strstr(e.msg, cases[i].needle)) fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].needle);
  }
  const char *docs[] = {
      "", "[]", "{}", "{\"tcbInfo\":{}}", "{\"signature\":\"00\",\"tcbInfo\":{}}",
      "{\"tcbInfo\":{},\"tcbInfo\":{}}", "{\"tcbInfo\":{\"a\":\"unterminated}",
      "{\"tcbInfo\":{}, \"other\":1}", "{\"tcbInfo\":[1]}",
  };
  for (size_t i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
    assert_int_not_equal(attest_tcb_info_parse(docs[i], strlen(docs[i]), t, &e), 0);
  snprintf(doc, sizeof(doc), "{\"enclaveIdentity\":{\"id\":\"QE\",\"version\":2},%s}", sig);
  assert_int_not_equal(attest_qe_identity_parse(doc, strlen(doc), q, &e), 0);
  assert_non_null(strstr(e.msg, "TD_QE"));
  free(t);
  free(q);
}

static void put_file(const char *dir, const char *name, const void *p, size_t n) {
  char path[512];
  snprintf(path, sizeof(path), "%s/%s", dir, name);
  FILE *f = fopen(path, "wb");
  assert_non_null(f);
  assert_int_equal(fwrite(p, 1, n, f), n);
  fclose(f);
}

/* A collateral directory as fetch-collateral writes it, with the CRLs in the other encodings a
 * PCCS may serve (hex text, PEM): loaded and evaluated like the in-memory collateral. */
static void test_load_dir(void **s) {
  struct fx *f = *s;
  char dir[] = "/tmp/cocoon-coll.XXXXXX";
  assert_non_null(mkdtemp(dir));
  size_t tl = 0, ql = 0, pl = 0, rl = 0, cl = 0;
  char *tcb = tc_tcb_info(&f->tcb, f->tcb_key, &tl);
  char *qe = tc_qe_identity(&f->qe, f->tcb_key, &ql);
  X509 *chain[2] = {f->tcb_cert, f->pki.root};
  char *pem = tq_pem(chain, 2, &pl);
  uint8_t *rcrl = tc_crl(f->pki.root, f->pki.root_key, T0 - DAY, T0 + DAY, NULL, 0, &rl);
  uint8_t *pcrl = tc_crl(f->pki.ca, f->pki.ca_key, T0 - DAY, T0 + DAY, f->pck_revoked, 0, &cl);
  char *hex = malloc(2 * rl + 2);
  tc_hex(rcrl, rl, hex);
  hex[2 * rl] = '\n';
  hex[2 * rl + 1] = '\0';
  const unsigned char *pp = pcrl;
  X509_CRL *crl = d2i_X509_CRL(NULL, &pp, (long)cl);
  BIO *b = BIO_new(BIO_s_mem());
  assert_int_equal(PEM_write_bio_X509_CRL(b, crl), 1);
  char *pemcrl;
  long pemlen = BIO_get_mem_data(b, &pemcrl);
  put_file(dir, ATTEST_COLLATERAL_TCB_INFO, tcb, tl);
  put_file(dir, ATTEST_COLLATERAL_QE_IDENTITY, qe, ql);
  put_file(dir, ATTEST_COLLATERAL_SIGNING_CHAIN, pem, pl - 1);
  put_file(dir, ATTEST_COLLATERAL_ROOT_CRL, hex, strlen(hex));
  put_file(dir, ATTEST_COLLATERAL_PCK_CRL, pemcrl, (size_t)pemlen);
  struct attest_collateral_files cf;
  struct err e = {0};
  assert_int_equal(attest_collateral_load_dir(dir, &cf, &e), 0);
  assert_int_equal(cf.c.root_ca_crl_len, rl);
  assert_memory_equal(cf.c.root_ca_crl_der, rcrl, rl);
  assert_int_equal(cf.c.pck_crl_len, cl);
  struct attest_verify_opts o = {.now = T0, .root_key = f->pki.root_xy, .collateral = &cf.c};
  struct attest_verify_result r;
  assert_int_equal(attest_quote_verify(&f->q, &o, &r, &e), 0);
  assert_int_equal(r.tcb_status, ATTEST_TCB_UP_TO_DATE);
  attest_collateral_files_free(&cf);
  /* A missing file is named. */
  char path[600];
  snprintf(path, sizeof(path), "%s/%s", dir, ATTEST_COLLATERAL_QE_IDENTITY);
  unlink(path);
  assert_int_not_equal(attest_collateral_load_dir(dir, &cf, &e), 0);
  assert_non_null(strstr(e.msg, "qe_identity.json"));
  const char *names[] = {ATTEST_COLLATERAL_TCB_INFO, ATTEST_COLLATERAL_SIGNING_CHAIN,
                         ATTEST_COLLATERAL_ROOT_CRL, ATTEST_COLLATERAL_PCK_CRL};
  for (size_t i = 0; i < 4; i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
  BIO_free(b);
  X509_CRL_free(crl);
  free(hex);
  free(tcb);
  free(qe);
  free(pem);
  OPENSSL_free(rcrl);
  OPENSSL_free(pcrl);
}

/* Writes f's collateral into dir (TCB info under `tcb_name`). */
static void write_dir(struct fx *f, const char *dir, const char *tcb_name) {
  size_t tl = 0, ql = 0, pl = 0, rl = 0, cl = 0;
  char *tcb = tc_tcb_info(&f->tcb, f->tcb_key, &tl);
  char *qe = tc_qe_identity(&f->qe, f->tcb_key, &ql);
  X509 *chain[2] = {f->tcb_cert, f->pki.root};
  char *pem = tq_pem(chain, 2, &pl);
  uint8_t *rcrl = tc_crl(f->pki.root, f->pki.root_key, T0 - DAY, T0 + DAY, NULL, 0, &rl);
  uint8_t *pcrl = tc_crl(f->pki.ca, f->pki.ca_key, T0 - DAY, T0 + DAY, NULL, 0, &cl);
  put_file(dir, tcb_name, tcb, tl);
  put_file(dir, ATTEST_COLLATERAL_QE_IDENTITY, qe, ql);
  put_file(dir, ATTEST_COLLATERAL_SIGNING_CHAIN, pem, pl - 1);
  put_file(dir, ATTEST_COLLATERAL_ROOT_CRL, rcrl, rl);
  put_file(dir, ATTEST_COLLATERAL_PCK_CRL, pcrl, cl);
  free(tcb);
  free(qe);
  free(pem);
  OPENSSL_free(rcrl);
  OPENSSL_free(pcrl);
}

static void rm_dir(const char *dir) {
  const char *names[] = {ATTEST_COLLATERAL_TCB_INFO, "tcb_info_90c06f000000.json", ATTEST_COLLATERAL_QE_IDENTITY,
                         ATTEST_COLLATERAL_SIGNING_CHAIN, ATTEST_COLLATERAL_ROOT_CRL, ATTEST_COLLATERAL_PCK_CRL};
  char path[600];
  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
    unlink(path);
  }
  rmdir(dir);
}

static int64_t clock_t0(void *arg) {
  (void)arg;
  return T0;
}

/* One policy check of a tdx quote bound to a fresh key, with the collateral of `dir`. */
static int policy_check(struct fx *f, const char *dir, uint32_t allow, struct ratls_peer *peer, struct err *e) {
  struct attest_policy_opts o = {.kind = ATTEST_POLICY_TDX, .tdx_root_key = f->pki.root_xy,
                                 .tdx_collateral_dir = dir, .tdx_allow_tcb = allow, .clock_cb = clock_t0};
  struct attest_policy *pol = NULL;
  assert_int_equal(attest_policy_new(&o, &pol, e), 0);
  uint8_t pub[32], rd[64];
  util_random(pub, sizeof(pub));
  assert_int_equal(attest_report_data_for_key(pub, rd), 0);
  size_t len = 0;
  uint8_t *q = tq_build(&f->pki, 4, ATTEST_BODY_TD10, rd, 0, &len, NULL);
  assert_non_null(q);
  memset(peer, 0, sizeof(*peer));
  int rc = attest_policy_check(pol, q, len, pub, peer, e);
  free(q);
  attest_policy_free(pol);
  return rc;
}

/* The daemons' tdx policy with tdx_collateral_dir: accepted when UpToDate, the collateral root
 * hash reported; OutOfDate refused unless allowed; Revoked refused even when "allowed"; the
 * per-FMSPC TCB info preferred over the generic one. */
static void test_policy_with_collateral(void **s) {
  struct fx *f = *s;
  char dir[] = "/tmp/cocoon-pcoll.XXXXXX";
  assert_non_null(mkdtemp(dir));
  struct ratls_peer peer;
  struct err e = {0};
  write_dir(f, dir, ATTEST_COLLATERAL_TCB_INFO);
  if (policy_check(f, dir, 0, &peer, &e) != 0) fail_msg("refused: %s", e.msg);
  uint8_t point[65], want[48];
  point[0] = 4;
  memcpy(point + 1, f->pki.root_xy, 64);
  SHA384(point, sizeof(point), want);
  assert_memory_equal(peer.m.collateral_root_hash, want, 48);

  f->tcb.levels[0].pcesvn = 14; /* the platform falls to level 1: OutOfDate */
  write_dir(f, dir, ATTEST_COLLATERAL_TCB_INFO);
  assert_int_equal(policy_check(f, dir, 0, &peer, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "TCB status OutOfDate is not accepted"));
  assert_int_equal(policy_check(f, dir, 1u << ATTEST_TCB_OUT_OF_DATE, &peer, &e), 0);

  f->tcb.levels[1].status = "Revoked";
  write_dir(f, dir, ATTEST_COLLATERAL_TCB_INFO);
  assert_int_equal(policy_check(f, dir, 0xffffffffu, &peer, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "Revoked"));

  /* tcb_info_<fmspc>.json wins over a tcb_info.json for another platform. */
  f->tcb.levels[0].pcesvn = 13;
  f->tcb.levels[1].status = "OutOfDate";
  write_dir(f, dir, "tcb_info_90c06f000000.json");
  f->tcb.fmspc[5] = 1;
  write_dir(f, dir, ATTEST_COLLATERAL_TCB_INFO);
  if (policy_check(f, dir, 0, &peer, &e) != 0) fail_msg("per-FMSPC TCB info not used: %s", e.msg);
  char path[600];
  snprintf(path, sizeof(path), "%s/tcb_info_90c06f000000.json", dir);
  unlink(path);
  assert_int_equal(policy_check(f, dir, 0, &peer, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "another FMSPC"));
  /* No collateral where the policy looks: refused, never accepted unchecked. */
  rm_dir(dir);
  assert_int_equal(policy_check(f, dir, 0, &peer, &e), ERR_REFUSED);
  assert_non_null(strstr(e.msg, "cannot open"));
}

static void test_status_names(void **s) {
  (void)s;
  for (int st = ATTEST_TCB_UP_TO_DATE; st <= ATTEST_TCB_REVOKED; st++) {
    enum attest_tcb_status back;
    assert_int_equal(attest_tcb_status_parse(attest_tcb_status_name((enum attest_tcb_status)st), &back), 0);
    assert_int_equal(back, st);
  }
  enum attest_tcb_status x;
  assert_int_not_equal(attest_tcb_status_parse("Fine", &x), 0);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
int main(void) {
  const struct CMUnitTest tests[] = {
      T(test_up_to_date),          T(test_platform_out_of_date),  T(test_pcesvn_out_of_date),
      T(test_tdx_component_out_of_date), T(test_qe_out_of_date_converges),
      T(test_qe_out_of_date_configuration), T(test_pck_revoked), T(test_pck_ca_revoked),
      T(test_level_revoked),       T(test_bad_tcb_signature),     T(test_signing_chain_not_to_root),
      T(test_tcb_info_expired),    T(test_qe_identity_expired),   T(test_crl_expired),
      T(test_crl_wrong_signer),    T(test_fmspc_mismatch),        T(test_qe_mrsigner_mismatch),
      T(test_qe_prodid_mismatch),  T(test_module_mismatch),       T(test_below_every_level),
      T(test_not_evaluated_for_bad_chain), T(test_no_collateral), T(test_intel_root_hash),
      T(test_pck_ext_from_test_cert), T(test_load_dir), T(test_policy_with_collateral), cmocka_unit_test(test_real_pck_extension),
      cmocka_unit_test(test_parse_refusals), cmocka_unit_test(test_status_names),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
