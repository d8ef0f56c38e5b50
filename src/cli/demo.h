/* demo: starts a local network (backend, proxy, worker, client) and sends one real request. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_DEMO_H
#define COCOON_CLI_DEMO_H

/* `cocoon demo [--serve]`; argv[0] is "demo". */
int demo_main(int argc, char **argv);

#endif
