/* attest_fetch: `cocoon attest fetch-collateral`: TDX collateral from a PCCS or Intel PCS. */
/* SPDX-License-Identifier: Apache-2.0 */
#ifndef COCOON_CLI_ATTEST_FETCH_H
#define COCOON_CLI_ATTEST_FETCH_H

/* argv[1] is "fetch-collateral". Returns the process exit code. */
int attest_fetch_main(int argc, char **argv);

#endif
