/* client: serves the OpenAI HTTP API on localhost and sends each request through a proxy. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLIENT_CLIENT_H
#define COCOON_CLIENT_CLIENT_H

#include "base/err.h"
#include "config/config.h"

struct loop;
struct client;

extern const struct config_key client_config_schema[];

CC_NODISCARD int client_new(struct loop *loop, const struct config *cfg, struct client **out,
                            struct err *e);
void client_free(struct client *c);

/* `cocoon client [--config FILE] [--key value ...]` */
int client_main(int argc, char **argv);

#endif
