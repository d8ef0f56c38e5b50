// deploy_settle: deploys the proxy (staked), client (topped up) and worker contracts on the local
// TON for test_ton_settle.sh, with contracts/build.cjs, under a root contract already deployed
// (from a registry file, by the test); prints KEY=VALUE lines. The params are the registry's.
// SPDX-License-Identifier: Apache-2.0
// Usage: node deploy_settle.cjs URL PROXY_KEY_PEM PROXY_WALLET CLIENT_OWNER WORKER_OWNER TOPUP ROOT
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');
const contracts = path.resolve(__dirname, '../../../contracts');
const build = require(path.join(contracts, 'build.cjs'));
const { beginCell, Address } = require(path.join(contracts, 'node_modules/@ton/core'));

const [url, keyPem, proxyWallet, clientOwner, workerOwner, topUpS, rootAddr] = process.argv.slice(2);
const topUp = BigInt(topUpS);
const params = { pricePerToken: 20n, workerFeePerToken: 19n, minClientStake: 1000000000n, minProxyStake: 2000000000n,
  clientDelayBeforeClose: 300, proxyDelayBeforeClose: 600 };
const OP = { proxyIncreaseStake: 0x9713f187, clientTopUp: 0xf172e6c2 };
const body = (op, qid, f = (b) => b) => f(beginCell().storeUint(op, 32).storeUint(qid, 64)).endCell();

async function post(route, obj) {
  const r = await fetch(url.replace(/\/api\/v2$/, '') + route, { method: 'POST',
    headers: { 'content-type': 'application/json' }, body: JSON.stringify(obj) });
  const j = await r.json();
  if (!r.ok || j.ok === false) throw new Error(`${route}: ${JSON.stringify(j)}`);
  return j.result ?? j;
}
async function deploy(c, amount, b) {
  return post('/localton/deploy', { code: c.code.toBoc().toString('base64'), data: c.data.toBoc().toString('base64'),
    amount: String(amount), body: b ? b.toBoc().toString('base64') : undefined });
}

(async () => {
  const pub = crypto.createPublicKey(fs.readFileSync(keyPem)).export({ format: 'der', type: 'spki' }).subarray(-32);
  const root = { address: Address.parse(rootAddr) };
  const proxy = await build.contract('proxy', { owner: proxyWallet, proxyPublicKey: pub, root: root.address, params });
  await deploy(proxy, params.minProxyStake + 200000000n,
    body(OP.proxyIncreaseStake, 1, (b) => b.storeCoins(params.minProxyStake).storeAddress(Address.parse(proxyWallet))));
  const client = await build.contract('client', { owner: clientOwner, proxy: proxy.address, proxyPublicKey: pub, params });
  await deploy(client, topUp + 300000000n,
    body(OP.clientTopUp, 2, (b) => b.storeCoins(topUp).storeAddress(Address.parse(clientOwner))));
  const worker = await build.contract('worker', { owner: workerOwner, proxy: proxy.address, proxyPublicKey: pub, params });
  await deploy(worker, 300000000n);
  console.log(`ROOT_SC=${root.address.toRawString()}`);
  console.log(`PROXY_SC=${proxy.address.toRawString()}`);
  console.log(`CLIENT_SC=${client.address.toRawString()}`);
  console.log(`WORKER_SC=${worker.address.toRawString()}`);
})().catch((e) => { console.error(e.stack || e.message); process.exit(1); });
