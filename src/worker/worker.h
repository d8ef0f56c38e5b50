/* worker: connects out to proxies, runs their queries on an OpenAI-compatible backend. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_WORKER_WORKER_H
#define COCOON_WORKER_WORKER_H

#include "base/err.h"
#include "config/config.h"

struct loop;
struct worker;

extern const struct config_key worker_config_schema[];

CC_NODISCARD int worker_new(struct loop *loop, const struct config *cfg, struct worker **out,
                            struct err *e);
void worker_free(struct worker *w);

/* `cocoon worker [--config FILE] [--key value ...]` */
int worker_main(int argc, char **argv);

#endif
