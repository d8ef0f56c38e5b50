/* provider: where a node's own quote comes from (none, fake_tdx, sim, tdx via configfs-tsm). */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_ATTEST_PROVIDER_H
#define COCOON_ATTEST_PROVIDER_H

#include <stddef.h>
#include <stdint.h>

#include "attest/quote.h"
#include "attest/sim.h"
#include "base/buf.h"
#include "base/err.h"

#define ATTEST_TSM_DIR "/sys/kernel/config/tsm/report"
#define ATTEST_SELF_EXE "/proc/self/exe"

enum attest_provider_kind {
  ATTEST_PROVIDER_NONE = 0, /* no quote: only an `any` peer accepts us */
  ATTEST_PROVIDER_FAKE_TDX, /* COCOON's test format: quote = the 64-byte report data */
  ATTEST_PROVIDER_SIM,      /* our software TEE: measurements of binary + config, signed quote */
  ATTEST_PROVIDER_TDX,      /* a real TD quote from the kernel (configfs-tsm) */
};

/* "none", "fake_tdx", "sim", "tdx" <-> kind. */
CC_NODISCARD int attest_provider_kind_parse(const char *s, enum attest_provider_kind *out,
                                            struct err *e);
const char *attest_provider_kind_name(enum attest_provider_kind k);

struct attest_provider_opts {
  enum attest_provider_kind kind;
  /* sim: the platform key, borrowed (must outlive the provider); when NULL it is loaded from
   * sim_platform_key_path, created 0600 if missing. */
  const struct attest_sim_platform *sim_platform;
  const char *sim_platform_key_path;
  const char *sim_exe_path;          /* measured into MRTD; NULL: ATTEST_SELF_EXE */
  const uint8_t *sim_config_measure; /* ATTEST_MR_LEN bytes put in RTMR0; NULL: zeros */
  /* tdx: the configfs-tsm report directory; NULL: ATTEST_TSM_DIR (tests point elsewhere). */
  const char *tsm_dir;
};

struct attest_provider;

/* Prepares the provider: for sim, hashes the binary and loads the platform key once; for tdx,
 * checks that configfs-tsm exists ("TDX is not available on this machine: ... missing"). All
 * opts strings are copied. Caller frees. */
CC_NODISCARD int attest_provider_new(const struct attest_provider_opts *opts,
                                     struct attest_provider **out, struct err *e);
void attest_provider_free(struct attest_provider *p); /* NULL-safe */
enum attest_provider_kind attest_provider_kind(const struct attest_provider *p);

/* COCOON's binding: report data = SHA-512(user claims) and the claims are the raw key. */
CC_NODISCARD int attest_report_data_for_key(const uint8_t pubkey[32],
                                            uint8_t out[ATTEST_REPORT_DATA_LEN]);

/* Appends a quote binding pubkey (the certificate's Ed25519 key) to out; appends nothing for
 * `none`. Not thread-safe for tdx (one report directory per call, from one thread). */
CC_NODISCARD int attest_provider_quote(struct attest_provider *p, const uint8_t pubkey[32],
                                       struct buf *out, struct err *e);

/* The measurements this provider attests (fake_tdx: zeros; sim: MRTD and RTMR0; tdx: those of
 * the last quote obtained). ERR_NOTFOUND for none and for tdx before its first quote. */
CC_NODISCARD int attest_provider_td(const struct attest_provider *p, struct attest_td_report *td);

#endif
