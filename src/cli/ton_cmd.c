/* ton_cmd: the `cocoon ton` subcommand (placeholder until its layer lands). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/ton_cmd.h"

#include <stdio.h>

int ton_cmd_main(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "cocoon %s: not available in this build yet\n", argv[0]);
  return 2;
}
