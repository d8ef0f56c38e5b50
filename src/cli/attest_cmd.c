/* attest_cmd: the `cocoon attest` subcommand (placeholder until its layer lands). */
/* SPDX-License-Identifier: Apache-2.0 */
#include "cli/attest_cmd.h"

#include <stdio.h>

int attest_cmd_main(int argc, char **argv) {
  (void)argc;
  fprintf(stderr, "cocoon %s: not available in this build yet\n", argv[0]);
  return 2;
}
