/* proxy: accepts workers and clients, routes each query to a worker and relays the answer. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_PROXY_PROXY_H
#define COCOON_PROXY_PROXY_H

#include "base/err.h"
#include "config/config.h"

struct loop;
struct config;
struct proxy;

/* The proxy's config schema (NULL-terminated; see docs/configuration.md). */
extern const struct config_key proxy_config_schema[];

/* Starts listening on the worker, client and HTTP ports. Borrows loop and cfg (both must
 * outlive the proxy). */
CC_NODISCARD int proxy_new(struct loop *loop, const struct config *cfg, struct proxy **out,
                           struct err *e);
void proxy_free(struct proxy *p);

/* `cocoon proxy [--config FILE] [--key value ...]` */
int proxy_main(int argc, char **argv);

#endif
