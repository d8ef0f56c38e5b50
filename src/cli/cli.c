/* cli: the `cocoon <command>` dispatcher. */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/cli.h"

#include <stdio.h>
#include <string.h>

static void usage(FILE *f) {
  fprintf(f,
          "usage: cocoon <command> [options]\n"
          "commands:\n"
          "  client   run the client daemon (OpenAI API on localhost)\n"
          "  proxy    run a proxy\n"
          "  worker   run a worker\n"
          "  keygen   create an RA-TLS key and certificate\n"
          "  demo     start a local network and send one request\n"
          "run `cocoon <command> --help` for its options\n");
}

int cli_main(int argc, char **argv) {
  if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
    usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  fprintf(stderr, "cocoon: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return 2;
}
