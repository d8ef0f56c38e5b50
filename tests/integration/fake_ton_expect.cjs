// fake_ton_expect: the contract addresses COCOON's runners derive in fake-TON mode, computed with
// @ton/core for test_fake_ton.sh. Args: CONFIG_JSON ROOT PROXY_OWNER PROXY_KEY_HEX WORKER_OWNER
// CLIENT_OWNER. Prints "proxy=<raw>", "worker=<raw>", "client=<raw>"; with "--cmp A B" instead,
// exits 0 when two address strings (any form) name the same account.
// SPDX-License-Identifier: Apache-2.0
'use strict';
const fs = require('fs');
const { Address, beginCell, Cell, contractAddress } = require('@ton/core');

const argv = process.argv.slice(2);
if (argv[0] === '--cmp') process.exit(Address.parse(argv[1]).equals(Address.parse(argv[2])) ? 0 : 1);
const [cfgPath, root, proxyOwner, keyHex, workerOwner, clientOwner] = argv;
const cfg = JSON.parse(fs.readFileSync(cfgPath, 'utf8'));
const code = (hex) => (hex ? Cell.fromBoc(Buffer.from(hex, 'hex'))[0] : beginCell().endCell());
const [pcode, wcode, ccode] = [code(cfg.proxy_sc_code), code(cfg.worker_sc_code), code(cfg.client_sc_code)];
const stake = 1000000000n;
// RootContractConfig::load_from_tl: struct_version 1, unique_id 13, is_test, delays 600/300.
const params = (w, c) => {
  const maybe = (b, x) => (x ? b.storeBit(1).storeRef(x) : b.storeBit(0));
  let b = beginCell().storeUint(1, 8).storeUint(cfg.params_version || 0, 32).storeUint(13, 32).storeBit(1)
    .storeCoins(BigInt(cfg.price_per_token || 0)).storeCoins(BigInt(cfg.worker_fee_per_token || 0))
    .storeUint(600, 32).storeUint(300, 32).storeCoins(stake).storeCoins(stake);
  return maybe(maybe(b.storeBit(0), w), c).endCell();
};
const key = Buffer.from(keyHex, 'hex');
const pdata = beginCell().storeAddress(Address.parse(proxyOwner)).storeBuffer(key, 32)
  .storeAddress(Address.parse(root)).storeUint(0, 2).storeCoins(0).storeCoins(0).storeUint(0, 32)
  .storeRef(params(wcode, ccode)).endCell();
const proxy = contractAddress(0, { code: pcode, data: pdata });
const wdata = beginCell().storeAddress(Address.parse(workerOwner)).storeAddress(proxy).storeBuffer(key, 32)
  .storeUint(0, 2).storeUint(0, 64).storeRef(params(null, null)).endCell();
const cdata = beginCell().storeUint(0, 2).storeCoins(0).storeCoins(stake).storeUint(0, 64).storeUint(0, 32)
  .storeUint(0, 256)
  .storeRef(beginCell().storeAddress(Address.parse(clientOwner)).storeAddress(proxy).storeBuffer(key, 32).endCell())
  .storeRef(params(null, null)).endCell();
console.log('proxy=' + proxy.toRawString());
console.log('worker=' + contractAddress(0, { code: wcode, data: wdata }).toRawString());
console.log('client=' + contractAddress(0, { code: ccode, data: cdata }).toRawString());
