/* attest_cmd: the `cocoon attest` subcommand: inspect and verify TDX quotes. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/attest_cmd.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "attest/collateral.h"
#include "attest/quote.h"
#include "attest/verify.h"
#include "base/util.h"
#include "cli/attest_fetch.h"

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
             "  https://api.trustedservices.intel.com, into DIR.\n");
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

int attest_cmd_main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "quote") == 0) return quote_cmd(argc, argv);
  if (argc >= 2 && strcmp(argv[1], "fetch-collateral") == 0) return attest_fetch_main(argc, argv);
  if (argc >= 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
    usage(stdout);
    return 0;
  }
  usage(stderr);
  return 2;
}
