// registry_root_data: the oracle for `cocoon registry root-data`: contracts/build.cjs builds the
// root contract's initial data from the same registry file, and prints its hash (and base64 BoC).
// SPDX-License-Identifier: Apache-2.0
// Usage: node registry_root_data.cjs CONTRACTS_DIR REGISTRY_FILE OWNER_ADDR
'use strict';
const fs = require('fs');
const path = require('path');

(async () => {
  const [dir, file, owner] = process.argv.slice(2);
  const build = require(path.resolve(dir, 'build.cjs'));
  const lists = { proxy_image: [], worker_image: [], model: [], proxy_addr: [] };
  const kv = {};
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    if (!line) continue;
    const sp = line.indexOf(' ');
    const k = line.slice(0, sp), v = line.slice(sp + 1);
    if (k in lists) lists[k].push(v);
    else kv[k] = v;
  }
  const hex = (h) => Buffer.from(h, 'hex');
  const data = await build.rootData({
    owner,
    version: Number(kv.version),
    proxyHashes: lists.proxy_image.map(hex),
    workerHashes: lists.worker_image.map(hex),
    modelHashes: lists.model.map(hex),
    proxies: lists.proxy_addr,
    params: {
      pricePerToken: BigInt(kv.price_per_token), workerFeePerToken: BigInt(kv.worker_fee_per_token),
      promptMult: Number(kv.prompt_multiplier), cachedMult: Number(kv.cached_multiplier),
      completionMult: Number(kv.completion_multiplier), reasoningMult: Number(kv.reasoning_multiplier),
      proxyDelayBeforeClose: Number(kv.proxy_delay_before_close),
      clientDelayBeforeClose: Number(kv.client_delay_before_close),
      minProxyStake: BigInt(kv.min_proxy_stake), minClientStake: BigInt(kv.min_client_stake),
    },
  });
  console.log(`data_hash: ${data.hash().toString('hex')}`);
  console.log(`data_boc64: ${data.toBoc().toString('base64')}`);
})().catch((e) => { console.error(e.stack || e.message); process.exit(1); });
