// deploy_fake_client: deploys the real client contract code with made-up data (a balance nobody
// paid) naming the test's proxy contract and key, for test_ton_settle.sh: the proxy must refuse
// it, since its address is not the one the proxy contract derives for its owner. Prints FAKE_SC=.
// SPDX-License-Identifier: Apache-2.0
// Usage: node deploy_fake_client.cjs URL PROXY_KEY_PEM PROXY_SC OWNER BALANCE
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const contracts = path.resolve(__dirname, '../../../contracts');
const build = require(path.join(contracts, 'build.cjs'));
const { beginCell, Address, contractAddress } = require(path.join(contracts, 'node_modules/@ton/core'));

const [url, keyPem, proxySc, owner, balance] = process.argv.slice(2);
const params = { pricePerToken: 20n, workerFeePerToken: 19n, minClientStake: 1000000000n, minProxyStake: 2000000000n,
  clientDelayBeforeClose: 300, proxyDelayBeforeClose: 600 };

(async () => {
  const pub = crypto.createPublicKey(fs.readFileSync(keyPem)).export({ format: 'der', type: 'spki' }).subarray(-32);
  const { code } = await build.compile('client');
  const data = beginCell()
    .storeUint(0, 2).storeCoins(BigInt(balance)).storeCoins(params.minClientStake).storeUint(0, 64).storeUint(0, 32)
    .storeUint(0, 256)
    .storeRef(beginCell().storeAddress(Address.parse(owner)).storeAddress(Address.parse(proxySc)).storeBuffer(pub, 32).endCell())
    .storeRef(build.paramsCell(params))
    .endCell();
  const r = await fetch(url.replace(/\/api\/v2$/, '') + '/localton/deploy', { method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: code.toBoc().toString('base64'), data: data.toBoc().toString('base64'), amount: '300000000' }) });
  const j = await r.json();
  if (!r.ok || j.ok === false) throw new Error(JSON.stringify(j));
  console.log(`FAKE_SC=${contractAddress(0, { code, data }).toRawString()}`);
})().catch((e) => { console.error(e.stack || e.message); process.exit(1); });
