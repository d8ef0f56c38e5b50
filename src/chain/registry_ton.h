/* registry_ton: a registry source (registry/source.h) that reads the COCOON root contract's state
 * through toncenter. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CHAIN_REGISTRY_TON_H
#define COCOON_CHAIN_REGISTRY_TON_H

#include <stdint.h>

#include "base/err.h"
#include "registry/source.h"

struct chain_registry_ton_config {
  const char *endpoint; /* toncenter v2 base URL, e.g. https://toncenter.com/api/v2 (copied) */
  const char *api_key;  /* NULL or "": none (copied, wiped on free, never logged) */
  const char *root;     /* the root contract's address, raw or friendly */
  uint32_t timeout_ms;  /* one request; 0: TONCENTER_DEFAULT_TIMEOUT_MS */
};

/* A source that reads the root contract's data cell (getAddressInformation) and turns it into a
 * registry (chain/root_registry.h). The chain, not an owner signature, vouches for it: the
 * registry's owner key is zero. Polls before registry_watch_start (the first load) block until
 * the answer or the timeout; afterwards each poll hands over the answer fetched since the last
 * one and starts the next request on the watcher's loop, so a change is seen within two poll
 * intervals. A poll returns 0 when the account did not change (same last transaction) and
 * reports a failure (unreachable endpoint, undeployed contract, malformed data) once until it
 * changes or a fetch succeeds. Caller frees (registry_source_free). */
CC_NODISCARD int chain_registry_ton_new(const struct chain_registry_ton_config *c, struct registry_source **out,
                                        struct err *e);

#endif
