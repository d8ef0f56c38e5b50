/* attest_cmd: the `cocoon attest` subcommand: inspect and verify TDX quotes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/attest_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "attest/collateral.h"
#include "attest/policy.h"
#include "attest/provider.h"
#include "attest/quote.h"
#include "attest/sim.h"
#include "attest/verify.h"
#include "base/util.h"
#include "cli/attest_fetch.h"
#include "net/ratls.h"

static void usage(FILE *f) {
  fprintf(f, "usage: cocoon attest quote FILE [--time UNIX] [--collateral DIR] [--allow-tcb LIST]\n"
             "       cocoon attest fetch-collateral --pccs URL (--quote FILE | --fmspc HEX\n"
             "                                      [--ca platform|processor]) --out DIR\n"
             "  quote: parses a binary TDX DCAP quote (v4/v5), prints its measurements and COCOON\n"
             "  image hash, and verifies its signatures and PCK chain up to the pinned Intel SGX\n"
             "  Root CA (certificate dates at --time, default now). With --collateral (a directory\n"
             "  as fetch-collateral writes it) it also verifies Intel's TCB info, QE identity and\n"
             "  CRLs and prints the platform's TCB status; a status other than UpToDate fails\n"
             "  unless --allow-tcb names it (comma-separated, e.g. SWHardeningNeeded,OutOfDate;\n"
             "  Revoked is never accepted). Exit 0 only when every check passes.\n"
             "  fetch-collateral: downloads the collateral for the quote's platform (FMSPC and\n"
             "  PCK CA from its PCK certificate) from a PCCS or Intel PCS base URL, e.g.\n"
             "  https://api.trustedservices.intel.com, into DIR.\n"
             "usage: cocoon attest cert FILE [--policy any|fake_tdx|sim|tdx] [--sim-platform-pubkey HEX]\n"
             "  Inspects an RA-TLS certificate (PEM, e.g. key_dir/cert.pem): key, validity, the quote's\n"
             "  format and measurements, image hash, whether its report data binds the key; then checks\n"
             "  it as a peer would under --policy (default any: certificate checks only). Exit 0 only\n"
             "  when accepted.\n");
}

/* Is status s in the comma-separated list? */
static int tcb_allowed(enum attest_tcb_status s, const char *list) {
  if (s == ATTEST_TCB_UP_TO_DATE) return 1;
  if (s == ATTEST_TCB_REVOKED || !list) return 0;
  const char *name = attest_tcb_status_name(s);
  size_t n = strlen(name);
  for (const char *p = list; *p;) {
    const char *end = strchr(p, ',');
    size_t l = end ? (size_t)(end - p) : strlen(p);
    if (l == n && strncmp(p, name, n) == 0) return 1;
    p += l + (end ? 1 : 0);
  }
  return 0;
}

/* Reads a whole file of at most `max` bytes into buf; returns its length or -1. */
static long read_file_max(const char *path, uint8_t *buf, size_t max, char *why, size_t whysz) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(why, whysz, "cannot open %s: %s", path, strerror(errno));
    return -1;
  }
  size_t n = fread(buf, 1, max, f);
  int more = fgetc(f) != EOF;
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    snprintf(why, whysz, "cannot read %s", path);
    return -1;
  }
  if (more) {
    snprintf(why, whysz, "%s is larger than %zu bytes", path, max);
    return -1;
  }
  return (long)n;
}

static void print_hex(const char *name, const uint8_t *p, size_t n) {
  char hex[2 * 64 + 1];
  if (n > 64) n = 64;
  util_hex(p, n, hex);
  printf("%s: %s\n", name, hex);
}

static void print_time(const char *name, int64_t t) {
  char s[40];
  time_t tt = (time_t)t;
  struct tm tm;
  if (gmtime_r(&tt, &tm) && strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%SZ", &tm) > 0)
    printf("%s: %s\n", name, s);
  else
    printf("%s: %lld\n", name, (long long)t);
}

static int quote_cmd(int argc, char **argv) {
  const char *path = NULL, *coll_dir = NULL, *allow = NULL;
  int64_t now = (int64_t)time(NULL);
  for (int i = 2; i < argc; i++) {
    if (strcmp(argv[i], "--collateral") == 0 && i + 1 < argc) {
      coll_dir = argv[++i];
    } else if (strcmp(argv[i], "--allow-tcb") == 0 && i + 1 < argc) {
      allow = argv[++i];
      for (const char *p = allow; *p;) {
        const char *end = strchr(p, ',');
        char name[64];
        size_t l = end ? (size_t)(end - p) : strlen(p);
        enum attest_tcb_status st;
        if (l >= sizeof(name)) l = sizeof(name) - 1;
        memcpy(name, p, l);
        name[l] = 0;
        if (attest_tcb_status_parse(name, &st) != 0) {
          fprintf(stderr, "cocoon attest quote: --allow-tcb: unknown TCB status '%s'\n", name);
          return 2;
        }
        p += l + (end ? 1 : 0);
      }
    } else if (strcmp(argv[i], "--time") == 0 && i + 1 < argc) {
      if (util_parse_i64(argv[++i], 0, INT64_C(253402300799), &now) != 0) {
        fprintf(stderr, "cocoon attest quote: --time wants Unix seconds, got '%s'\n", argv[i]);
        return 2;
      }
    } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
      usage(stdout);
      return 0;
    } else if (argv[i][0] == '-' || path) {
      usage(stderr);
      return 2;
    } else {
      path = argv[i];
    }
  }
  if (!path) {
    usage(stderr);
    return 2;
  }

  static uint8_t data[ATTEST_QUOTE_MAX];
  char why[512];
  long len = read_file_max(path, data, sizeof(data), why, sizeof(why));
  if (len < 0) {
    fprintf(stderr, "cocoon attest quote: %s\n", why);
    return 1;
  }
  struct attest_quote q;
  struct err e = {0};
  if (attest_quote_parse(data, (size_t)len, &q, &e) != 0) {
    fprintf(stderr, "cocoon attest quote: FAILED parse: %s\n", e.msg);
    return 1;
  }
  uint8_t image[ATTEST_IMAGE_HASH_LEN];
  if (attest_image_hash(&q.td, image) != 0) {
    fprintf(stderr, "cocoon attest quote: cannot compute the image hash\n");
    return 1;
  }

  printf("version: %u\n", (unsigned)q.version);
  printf("tee_type: 0x%x\n", (unsigned)q.tee_type);
  printf("body_type: %u (TD report %s)\n", (unsigned)q.body_type,
         q.body_type == ATTEST_BODY_TD15 ? "1.5" : "1.0");
  print_hex("qe_vendor_id", q.qe_vendor_id, sizeof(q.qe_vendor_id));
  print_hex("tee_tcb_svn", q.td.tee_tcb_svn, sizeof(q.td.tee_tcb_svn));
  print_hex("mrseam", q.td.mrseam, ATTEST_MR_LEN);
  print_hex("td_attributes", q.td.td_attributes, sizeof(q.td.td_attributes));
  print_hex("xfam", q.td.xfam, sizeof(q.td.xfam));
  print_hex("mrtd", q.td.mrtd, ATTEST_MR_LEN);
  print_hex("rtmr0", q.td.rtmr[0], ATTEST_MR_LEN);
  print_hex("rtmr1", q.td.rtmr[1], ATTEST_MR_LEN);
  print_hex("rtmr2", q.td.rtmr[2], ATTEST_MR_LEN);
  print_hex("rtmr3", q.td.rtmr[3], ATTEST_MR_LEN);
  print_hex("mrconfigid", q.td.mrconfigid, ATTEST_MR_LEN);
  print_hex("mrowner", q.td.mrowner, ATTEST_MR_LEN);
  print_hex("mrownerconfig", q.td.mrownerconfig, ATTEST_MR_LEN);
  if (q.body_type == ATTEST_BODY_TD15) {
    print_hex("tee_tcb_svn2", q.td.tee_tcb_svn2, sizeof(q.td.tee_tcb_svn2));
    print_hex("mrservicetd", q.td.mrservicetd, ATTEST_MR_LEN);
  }
  print_hex("report_data", q.td.report_data, ATTEST_REPORT_DATA_LEN);
  print_hex("image_hash", image, sizeof(image));
  printf("trailing_bytes: %zu\n", q.trailing_len);

  struct attest_collateral_files cf = {0};
  if (coll_dir && attest_collateral_load_dir(coll_dir, &cf, &e) != 0) {
    fprintf(stderr, "cocoon attest quote: %s\n", e.msg);
    return 1;
  }
  struct attest_verify_opts opts = {.now = now, .root_key = NULL,
                                    .collateral = coll_dir ? &cf.c : NULL};
  struct attest_verify_result r;
  int rc = attest_quote_verify(&q, &opts, &r, &e);
  attest_collateral_files_free(&cf);
  print_time("checked_at", now);
  if (r.passed[ATTEST_CHECK_CERT_DATES]) {
    print_time("certs_not_before", r.certs_not_before);
    print_time("certs_not_after", r.certs_not_after);
  }
  print_hex("collateral_root_hash", r.collateral_root_hash, sizeof(r.collateral_root_hash));
  for (int c = 0; c < ATTEST_CHECK_COUNT; c++) {
    const char *name = attest_check_name((enum attest_check)c);
    if (c == ATTEST_CHECK_COLLATERAL && !r.collateral_given)
      printf("%s: not given\n", name);
    else if (r.passed[c])
      printf("%s: ok\n", name);
    else
      printf("%s: FAILED (%s)\n", name, r.detail[c]);
  }
  if (!r.collateral_given) {
    printf("tcb_status: not evaluated (no collateral)\n");
  } else if (rc == 0) {
    printf("tcb_status: %s\n", attest_tcb_status_name(r.tcb_status));
    print_time("collateral_expires", r.collateral_expires);
  }
  if (rc != 0) {
    fprintf(stderr, "cocoon attest quote: FAILED %s\n", e.msg);
    return 1;
  }
  if (r.collateral_given && !tcb_allowed(r.tcb_status, allow)) {
    fprintf(stderr, "cocoon attest quote: FAILED tcb_status: %s is not accepted%s\n",
            attest_tcb_status_name(r.tcb_status),
            r.tcb_status == ATTEST_TCB_REVOKED ? "" : " (see --allow-tcb)");
    return 1;
  }
  return 0;
}

/* Wraps the chosen policy to keep a copy of the quote (the certificate's bytes are only lent
 * to validate_cb) for printing. */
struct capture {
  struct ratls_policy rp;
  struct ratls_policy *inner;
  uint8_t quote[RATLS_MAX_EXT_SIZE];
  size_t quote_len;
  int seen;
};

static int capture_cb(struct ratls_policy *rp, struct ratls_peer *peer, struct err *e) {
  struct capture *c = rp->data;
  c->seen = 1;
  c->quote_len = 0;
  if (peer->quote && peer->quote_len <= sizeof(c->quote)) {
    memcpy(c->quote, peer->quote, peer->quote_len);
    c->quote_len = peer->quote_len;
  }
  return c->inner->validate_cb(c->inner, peer, e);
}

static void print_td(const struct attest_td_report *td) {
  print_hex("mrtd", td->mrtd, ATTEST_MR_LEN);
  print_hex("rtmr0", td->rtmr[0], ATTEST_MR_LEN);
  print_hex("rtmr1", td->rtmr[1], ATTEST_MR_LEN);
  print_hex("rtmr2", td->rtmr[2], ATTEST_MR_LEN);
  print_hex("rtmr3", td->rtmr[3], ATTEST_MR_LEN);
  print_hex("mrconfigid", td->mrconfigid, ATTEST_MR_LEN);
  print_hex("mrowner", td->mrowner, ATTEST_MR_LEN);
  print_hex("mrownerconfig", td->mrownerconfig, ATTEST_MR_LEN);
  print_hex("report_data", td->report_data, ATTEST_REPORT_DATA_LEN);
  uint8_t ih[ATTEST_IMAGE_HASH_LEN];
  if (attest_image_hash(td, ih) == 0) print_hex("image_hash", ih, sizeof(ih));
}

/* Prints what the quote says, without judging it (the policy does that). */
static void describe_quote(const uint8_t *q, size_t n, const uint8_t key[32]) {
  struct attest_td_report td;
  memset(&td, 0, sizeof(td));
  struct err e = {0};
  static struct attest_quote tq;
  struct attest_sim_quote sq;
  if (n == ATTEST_REPORT_DATA_LEN) {
    printf("quote_format: fake_tdx (the report data itself; measurements zero)\n");
    memcpy(td.report_data, q, ATTEST_REPORT_DATA_LEN);
  } else if (attest_sim_quote_parse(q, n, &sq, &e) == 0) {
    printf("quote_format: sim v%u\n", (unsigned)sq.version);
    print_hex("sim_platform_key", sq.platform_key, ATTEST_SIM_KEY_LEN);
    td = sq.td;
  } else if (attest_quote_parse(q, n, &tq, &e) == 0) {
    printf("quote_format: tdx v%u\n", (unsigned)tq.version);
    td = tq.td;
  } else {
    printf("quote_format: unknown (%s)\n", e.msg);
    return;
  }
  print_td(&td);
  uint8_t rd[ATTEST_REPORT_DATA_LEN];
  int bound = attest_report_data_for_key(key, rd) == 0 && memcmp(rd, td.report_data, sizeof(rd)) == 0;
  printf("report_data_binds_key: %s\n", bound ? "yes" : "NO (report data is not SHA-512 of the certificate key)");
}

static int cert_cmd(int argc, char **argv) {
  const char *path = NULL, *pol = "any", *sim_hex = NULL;
  for (int i = 2; i < argc; i++) {
    if (!strcmp(argv[i], "--policy") && i + 1 < argc) pol = argv[++i];
    else if (!strcmp(argv[i], "--sim-platform-pubkey") && i + 1 < argc) sim_hex = argv[++i];
    else if (argv[i][0] == '-' || path) {
      usage(stderr);
      return 2;
    } else path = argv[i];
  }
  if (!path) {
    usage(stderr);
    return 2;
  }
  struct err e = {0};
  enum attest_policy_kind kind;
  uint8_t sim_key[32];
  if (attest_policy_kind_parse(pol, &kind, &e)) {
    fprintf(stderr, "cocoon attest cert: %s\n", e.msg);
    return 2;
  }
  if (kind == ATTEST_POLICY_SIM && (!sim_hex || strlen(sim_hex) != 64 || util_unhex(sim_hex, 64, sim_key, 32))) {
    fprintf(stderr, "cocoon attest cert: --policy sim needs --sim-platform-pubkey (64 hex)\n");
    return 2;
  }
  BIO *bio = BIO_new_file(path, "rb");
  X509 *cert = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
  BIO_free(bio);
  ERR_clear_error();
  if (!cert) {
    fprintf(stderr, "cocoon attest cert: %s: cannot read a PEM certificate\n", path);
    return 1;
  }
  struct attest_policy_opts o = {.kind = kind, .sim_platform_key = kind == ATTEST_POLICY_SIM ? sim_key : NULL};
  struct attest_policy *ap = NULL;
  if (attest_policy_new(&o, &ap, &e)) {
    fprintf(stderr, "cocoon attest cert: %s\n", e.msg);
    X509_free(cert);
    return 2;
  }
  static struct capture cap;
  cap.rp = (struct ratls_policy){.name = attest_policy_kind_name(kind), .validate_cb = capture_cb, .data = &cap};
  cap.inner = attest_policy_ratls(ap);
  static struct ratls_result res;
  int rc = ratls_verify_x509(cert, &cap.rp, &res);

  char serial[80] = "";
  BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
  char *sh = bn ? BN_bn2hex(bn) : NULL;
  if (sh) snprintf(serial, sizeof(serial), "%s", sh);
  OPENSSL_free(sh);
  BN_free(bn);
  ASN1_TIME *epoch = ASN1_TIME_set(NULL, 0);
  int d = 0, sec = 0;
  if (epoch && ASN1_TIME_diff(&d, &sec, epoch, X509_get0_notBefore(cert))) print_time("not_before", (int64_t)d * 86400 + sec);
  if (epoch && ASN1_TIME_diff(&d, &sec, epoch, X509_get0_notAfter(cert))) print_time("not_after", (int64_t)d * 86400 + sec);
  ASN1_TIME_free(epoch);
  printf("serial: %s\n", serial);
  if (cap.seen) {
    print_hex("public_key", res.peer.public_key, 32);
    printf("quote_bytes: %zu\n", cap.quote_len);
    if (cap.quote_len) describe_quote(cap.quote, cap.quote_len, res.peer.public_key);
  } else {
    printf("public_key: (not reached: the certificate failed before the policy)\n");
  }
  if (rc == 0) printf("policy %s: accepted\n", attest_policy_kind_name(kind));
  else printf("policy %s: REFUSED (%s)\n", attest_policy_kind_name(kind), res.err.msg);
  attest_policy_free(ap);
  X509_free(cert);
  return rc == 0 ? 0 : 1;
}

int attest_cmd_main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "quote") == 0) return quote_cmd(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "cert") == 0) return cert_cmd(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "fetch-collateral") == 0) return attest_fetch_main(argc, argv);
  if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
