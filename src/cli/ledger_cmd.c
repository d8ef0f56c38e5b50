/* ledger_cmd: the `cocoon ledger` subcommand: show balances and history, verify a ledger file. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/ledger_cmd.h"

#include <stdio.h>
#include <string.h>

#include <openssl/crypto.h>
#include <sqlite3.h>

#include "base/err.h"
#include "base/util.h"
#include "ledger/ledger.h"

static void usage(void) {
  fprintf(stderr,
          "usage: cocoon ledger verify DB --key-file FILE [--max-reports N]\n"
          "       cocoon ledger show DB [--client ADDR | --worker ADDR] [--limit N] [--key-file FILE]\n"
          "       cocoon ledger ids DB [--key-file FILE]   (every request id and its status, one a line)\n"
          "FILE is the proxy's machine key: its PEM Ed25519 private key (key.pem from `cocoon keygen`)\n"
          "or a file holding the 32-byte seed as 64 hex digits. `verify` checks every row's MAC and the\n"
          "billing invariants (charges = earnings + commissions, each charge recomputed from its usage,\n"
          "account totals, the commit chain, no client balance ever negative) and exits 0 only when all hold; `show` with --key-file verifies first.\n");
}

/* nano-TON as TON with 9 decimals. */
static const char *ton(int64_t v, char *buf, size_t n) {
  uint64_t a = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  snprintf(buf, n, "%s%llu.%09llu", v < 0 ? "-" : "", (unsigned long long)(a / 1000000000u),
           (unsigned long long)(a % 1000000000u));
  return buf;
}

static void print_violation(void *arg, const char *v) {
  (void)arg;
  printf("violation: %s\n", v);
}

static int do_verify(const char *db, const char *key_file, size_t max_reports, int quiet) {
  uint8_t seed[LEDGER_KEY_SIZE];
  struct err e = {0};
  struct ledger_verify_stats st = {0};
  if (ledger_key_load(key_file, seed, &e) != 0) {
    fprintf(stderr, "cocoon ledger: %s\n", e.msg);
    return 1;
  }
  /* A proxy's ledger also keeps every client within its credit; the CLI checks that too. */
  int rc = ledger_verify_credit(db, seed, print_violation, NULL, max_reports, &st, &e);
  OPENSSL_cleanse(seed, sizeof(seed));
  if (rc == 0) {
    char a[32], b[32], c[32];
    if (!quiet)
      printf("ok: %lld accounts, %lld requests, %lld transfers, %lld payments, %lld commits; charges %s ="
             " earnings %s + commissions %s TON\n",
             (long long)st.accounts, (long long)st.requests, (long long)st.transfers, (long long)st.payments,
             (long long)st.commits, ton(st.charge_total, a, sizeof(a)), ton(st.earning_total, b, sizeof(b)),
             ton(st.commission_total, c, sizeof(c)));
    return 0;
  }
  fprintf(stderr, "cocoon ledger: %s\n", e.msg);
  return 1;
}

static int show_accounts(sqlite3 *db) {
  sqlite3_stmt *st = NULL;
  char b[32], a[32], s[32];
  int r;
  if (sqlite3_prepare_v2(db, "SELECT kind, owner, balance, stake, tokens, amount, requests FROM accounts"
                             " ORDER BY kind, owner", -1, &st, NULL) != SQLITE_OK)
    return fprintf(stderr, "cocoon ledger: %s\n", sqlite3_errmsg(db)), 1;
  printf("%-7s %-48s %20s %16s %14s %20s %10s\n", "kind", "owner", "balance TON", "stake TON", "tokens",
         "charged/earned TON", "requests");
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    printf("%-7s %-48s %20s %16s %14lld %20s %10lld\n", (const char *)sqlite3_column_text(st, 0),
           (const char *)sqlite3_column_text(st, 1), ton(sqlite3_column_int64(st, 2), b, sizeof(b)),
           ton(sqlite3_column_int64(st, 3), s, sizeof(s)), (long long)sqlite3_column_int64(st, 4),
           ton(sqlite3_column_int64(st, 5), a, sizeof(a)), (long long)sqlite3_column_int64(st, 6));
  }
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) return fprintf(stderr, "cocoon ledger: %s\n", sqlite3_errmsg(db)), 1;
  return 0;
}

static int show_history(sqlite3 *db, const char *who, const char *addr, int64_t limit) {
  sqlite3_stmt *st = NULL;
  char sql[512], c[32], w[32];
  int r, rows = 0;
  snprintf(sql, sizeof(sql),
           "SELECT id, request_id, client, worker, model, prompt_tokens, cached_tokens, completion_tokens,"
           " reasoning_tokens, coefficient, adjusted_tokens, client_charge, worker_earning, ended_at, status"
           " FROM requests WHERE %s = ?1 ORDER BY id DESC LIMIT ?2",
           strcmp(who, "client") == 0 ? "client" : "worker");
  if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
    return fprintf(stderr, "cocoon ledger: %s\n", sqlite3_errmsg(db)), 1;
  sqlite3_bind_text(st, 1, addr, -1, SQLITE_STATIC);
  sqlite3_bind_int64(st, 2, limit);
  printf("\nlast %lld requests of %s %s (newest first):\n", (long long)limit, who, addr);
  printf("%8s %-20s %-24s %-20s %8s %8s %8s %8s %6s %10s %16s %16s %6s\n", "id", "request", "counterpart",
         "model", "prompt", "cached", "compl", "reason", "coef", "adjusted", "charge TON", "earning TON",
         "status");
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    rows++;
    const char *other = (const char *)sqlite3_column_text(st, strcmp(who, "client") == 0 ? 3 : 2);
    printf("%8lld %-20.20s %-24.24s %-20.20s %8lld %8lld %8lld %8lld %6lld %10lld %16s %16s %6s\n",
           (long long)sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), other,
           (const char *)sqlite3_column_text(st, 4), (long long)sqlite3_column_int64(st, 5),
           (long long)sqlite3_column_int64(st, 6), (long long)sqlite3_column_int64(st, 7),
           (long long)sqlite3_column_int64(st, 8), (long long)sqlite3_column_int64(st, 9),
           (long long)sqlite3_column_int64(st, 10), ton(sqlite3_column_int64(st, 11), c, sizeof(c)),
           ton(sqlite3_column_int64(st, 12), w, sizeof(w)), (const char *)sqlite3_column_text(st, 14));
  }
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) return fprintf(stderr, "cocoon ledger: %s\n", sqlite3_errmsg(db)), 1;
  if (!rows) printf("(none)\n");
  return 0;
}

/* Every request id with its status: what a client's X-Cocoon-Request-Id headers are checked against. */
static int do_ids(const char *path, const char *key_file) {
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int rc = 1, r;
  if (key_file && do_verify(path, key_file, 20, 1) != 0) return 1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "cocoon ledger: %s: %s\n", path, db ? sqlite3_errmsg(db) : "cannot open");
    goto out;
  }
  sqlite3_busy_timeout(db, 5000);
  if (sqlite3_prepare_v2(db, "SELECT request_id, status FROM requests ORDER BY id", -1, &st, NULL) != SQLITE_OK) {
    fprintf(stderr, "cocoon ledger: %s\n", sqlite3_errmsg(db));
    goto out;
  }
  while ((r = sqlite3_step(st)) == SQLITE_ROW)
    printf("%s %s\n", (const char *)sqlite3_column_text(st, 0), (const char *)sqlite3_column_text(st, 1));
  if (r != SQLITE_DONE) fprintf(stderr, "cocoon ledger: %s\n", sqlite3_errmsg(db));
  else rc = 0;
out:
  sqlite3_finalize(st);
  sqlite3_close(db);
  return rc;
}

static int do_show(const char *path, const char *who, const char *addr, int64_t limit, const char *key_file) {
  sqlite3 *db = NULL;
  int rc = 1;
  if (key_file && do_verify(path, key_file, 20, 1) != 0) return 1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) {
    fprintf(stderr, "cocoon ledger: %s: %s\n", path, db ? sqlite3_errmsg(db) : "cannot open");
    goto out;
  }
  sqlite3_busy_timeout(db, 5000);
  if ((rc = show_accounts(db)) != 0) goto out;
  if (who) rc = show_history(db, who, addr, limit);
  if (!key_file) printf("\n(not verified: add --key-file or run `cocoon ledger verify`)\n");
out:
  sqlite3_close(db);
  return rc;
}

int ledger_cmd_main(int argc, char **argv) {
  if (argc < 3 || argv[2][0] == '-') {
    usage();
    return 2;
  }
  const char *sub = argv[1], *db = argv[2], *key_file = NULL, *who = NULL, *addr = NULL;
  int64_t limit = 20, max_reports = 0;
  for (int i = 3; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) {
      fprintf(stderr, "cocoon ledger: %s needs a value\n", a);
      return 2;
    }
    i++;
    if (strcmp(a, "--key-file") == 0) key_file = v;
    else if (strcmp(a, "--client") == 0 || strcmp(a, "--worker") == 0) {
      if (who) {
        fprintf(stderr, "cocoon ledger: give one of --client or --worker\n");
        return 2;
      }
      who = a + 2;
      addr = v;
    } else if (strcmp(a, "--limit") == 0) {
      if (util_parse_i64(v, 1, 1000000, &limit) != 0) {
        fprintf(stderr, "cocoon ledger: --limit must be 1..1000000\n");
        return 2;
      }
    } else if (strcmp(a, "--max-reports") == 0) {
      if (util_parse_i64(v, 0, 1000000, &max_reports) != 0) {
        fprintf(stderr, "cocoon ledger: --max-reports must be 0..1000000\n");
        return 2;
      }
    } else {
      fprintf(stderr, "cocoon ledger: unknown option %s\n", a);
      usage();
      return 2;
    }
  }
  if (strcmp(sub, "verify") == 0) {
    if (!key_file || who) {
      usage();
      return 2;
    }
    return do_verify(db, key_file, (size_t)max_reports, 0);
  }
  if (strcmp(sub, "show") == 0) return do_show(db, who, addr, limit, key_file);
  if (strcmp(sub, "ids") == 0 && !who) return do_ids(db, key_file);
  usage();
  return 2;
}
