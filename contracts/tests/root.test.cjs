// root.test: the root registry: allowlists, registered proxies, prices and parameters, owner-only
// updates that bump the version, and the get-methods.
// SPDX-License-Identifier: Apache-2.0
'use strict';
const { describe, it, before, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const crypto = require('node:crypto');
const { Blockchain } = require('@ton/sandbox');
const { beginCell, Dictionary } = require('@ton/core');
const h = require('./helpers.cjs');
const { ERR, toNano } = h;

const OPS = {
  addWorker: 0xe34b1c60, delWorker: 0x8d94a79a, addProxy: 0x71860e80, delProxy: 0x3c41d0b2,
  addModel: 0xc146134d, delModel: 0x92b11c18, registerProxy: 0x927c7cb5, unregisterProxy: 0x6d49eaf2,
  updateProxy: 0x9c7924ba, changeFees: 0xc52ed8d4, changeParams: 0x022fa189, changeOwner: 0xc4a1ae54,
  upgradeContracts: 0xa2370f61, changeMultipliers: 0x6d756c74,
};
const hash = (s) => crypto.createHash('sha256').update(s).digest();
const big = (b) => BigInt('0x' + b.toString('hex'));
const endpoint = (s) => beginCell().storeUint(0, 1).storeUint(s.length, 7).storeBuffer(Buffer.from(s));

describe('root contract', () => {
  let bc, owner, stranger, root, base;
  const get = async (m, args = []) => (await bc.runGetMethod(root.address, m, args)).stackReader;
  const valid = async (m, hb) => (await get(m, [{ type: 'int', value: big(hb) }])).readBoolean();
  const cocoonData = async () => {
    const r = await get('get_cocoon_data');
    return { version: r.readNumber(), lastProxySeqno: r.readNumber(), paramsVersion: r.readNumber(),
      uniqueId: r.readNumber(), isTest: r.readBoolean(), price: r.readBigNumber(), workerFee: r.readBigNumber(),
      minProxyStake: r.readBigNumber(), minClientStake: r.readBigNumber(), owner: r.readAddress() };
  };
  const send = async (from, op, f = (b) => b) => {
    const accounts = [owner.address, stranger.address, root.address];
    return h.sendChecked(bc, accounts, from, root.address, toNano('0.05'),
      f(beginCell().storeUint(op, 32).storeUint(1, 64)).endCell());
  };

  before(async () => {
    bc = await Blockchain.create();
    bc.now = 1_800_000_000;
    owner = await bc.treasury('root-owner');
    stranger = await bc.treasury('stranger');
    root = await h.build.contract('root', { owner: owner.address, proxyHashes: [hash('proxy-image')],
      workerHashes: [hash('worker-image')], modelHashes: [hash('model')], proxies: ['127.0.0.1:8888'],
      params: h.PARAMS });
    const r = await owner.send({ to: root.address, value: toNano('1'), init: root.init });
    h.expectOk(r);
    base = bc.snapshot();
  });
  beforeEach(async () => { await bc.loadFrom(base); });

  it('is deployed from a config and answers its get-methods', async () => {
    const d = await cocoonData();
    assert.equal(d.version, 0);
    assert.equal(d.lastProxySeqno, 1);
    assert.equal(d.paramsVersion, 1);
    assert.equal(d.isTest, true);
    assert.equal(d.price, 20n);
    assert.equal(d.workerFee, 19n);
    assert.equal(d.minProxyStake, toNano('2'));
    assert.equal(d.minClientStake, toNano('1'));
    assert.ok(d.owner.equals(owner.address));
    assert.equal(await valid('get_proxy_hash_is_valid', hash('proxy-image')), true);
    assert.equal(await valid('get_worker_hash_is_valid', hash('worker-image')), true);
    assert.equal(await valid('get_model_hash_is_valid', hash('model')), true);
    assert.equal(await valid('get_worker_hash_is_valid', hash('proxy-image')), false);
    const p = await get('get_cur_params');
    const cur = Array.from({ length: 14 }, () => p.readBigNumber());
    assert.deepEqual(cur.slice(0, 11), [1n, 1n, -1n, 20n, 19n, 10000n, 10000n, 600n, 300n, toNano('2'), toNano('1')]);
    const codes = await h.build.compileAll();
    assert.deepEqual(cur.slice(11), ['proxy', 'worker', 'client'].map((k) => big(codes[k].code.hash())));
    const m = await get('get_multipliers');
    assert.deepEqual([m.readNumber(), m.readNumber(), m.readNumber(), m.readNumber()], [10000, 10000, 10000, 10000]);
    const ep = (await get('get_proxy', [{ type: 'int', value: 1n }])).readCell().beginParse();
    assert.equal(ep.loadUint(1), 0);
    assert.equal(ep.loadBuffer(ep.loadUint(7)).toString(), '127.0.0.1:8888');
  });

  it('adds and removes allowed hashes for the owner, bumping the version each time', async () => {
    const cases = [['addWorker', 'delWorker', 'get_worker_hash_is_valid'], ['addProxy', 'delProxy', 'get_proxy_hash_is_valid'],
      ['addModel', 'delModel', 'get_model_hash_is_valid']];
    let version = 0;
    for (const [add, del, getter] of cases) {
      const x = hash(`new-${add}`);
      let r = await send(stranger, OPS[add], (b) => b.storeBuffer(x));
      h.expectRefused(r, root.address, ERR.notOwner);
      r = await send(owner, OPS[add], (b) => b.storeBuffer(x));
      h.expectOk(r);
      assert.equal(await valid(getter, x), true);
      assert.equal((await cocoonData()).version, ++version);
      r = await send(owner, OPS[del], (b) => b.storeBuffer(x));
      h.expectOk(r);
      assert.equal(await valid(getter, x), false);
      assert.equal((await cocoonData()).version, ++version);
      r = await send(owner, OPS[del], (b) => b.storeBuffer(x));
      h.expectRefused(r, root.address, ERR.notFound);
    }
    assert.equal((await cocoonData()).paramsVersion, 1);
  });

  it('registers, updates and unregisters proxies', async () => {
    let r = await send(owner, OPS.registerProxy, (b) => b.storeBuilder(endpoint('10.0.0.2:8888 10.0.0.2:8889')));
    h.expectOk(r);
    assert.equal((await get('get_last_proxy_seqno')).readNumber(), 2);
    const read = async (seq) => {
      const c = (await get('get_proxy', [{ type: 'int', value: BigInt(seq) }])).readCellOpt();
      if (!c) return null;
      const s = c.beginParse(); s.loadUint(1);
      return s.loadBuffer(s.loadUint(7)).toString();
    };
    assert.equal(await read(2), '10.0.0.2:8888 10.0.0.2:8889');
    r = await send(owner, OPS.updateProxy, (b) => b.storeUint(2, 32).storeBuilder(endpoint('10.0.0.3:443')));
    h.expectOk(r);
    assert.equal(await read(2), '10.0.0.3:443');
    r = await send(owner, OPS.updateProxy, (b) => b.storeUint(9, 32).storeBuilder(endpoint('10.0.0.3:443')));
    h.expectRefused(r, root.address, ERR.notFound);
    r = await send(owner, OPS.unregisterProxy, (b) => b.storeUint(1, 32));
    h.expectOk(r);
    assert.equal(await read(1), null);
    r = await send(owner, OPS.unregisterProxy, (b) => b.storeUint(1, 32));
    h.expectRefused(r, root.address, ERR.notFound);
    r = await send(stranger, OPS.registerProxy, (b) => b.storeBuilder(endpoint('6.6.6.6:1')));
    h.expectRefused(r, root.address, ERR.notOwner);
    // the dictionary in the stored data is COCOON's layout: seqno -> kind len text
    const data = (await bc.getContract(root.address)).accountState.state.data;
    const rootData = data.beginParse();
    rootData.loadAddress();
    const d = rootData.loadRef().beginParse();
    d.loadDict(Dictionary.Keys.BigUint(256), { parse: () => 0, serialize: () => {} });
    const proxies = d.loadDict(Dictionary.Keys.Uint(32), { parse: (s) => { s.loadUint(1); return s.loadBuffer(s.loadUint(7)).toString(); }, serialize: () => {} });
    assert.deepEqual(proxies.keys(), [2]);
    assert.equal(d.loadUint(32), 2);
    assert.equal((await cocoonData()).version, 3);
  });

  it('changes prices, parameters and multipliers, bumping version and params version', async () => {
    let r = await send(owner, OPS.changeFees, (b) => b.storeCoins(30).storeCoins(25));
    h.expectOk(r);
    let d = await cocoonData();
    assert.deepEqual([d.price, d.workerFee, d.version, d.paramsVersion], [30n, 25n, 1, 2]);
    r = await send(owner, OPS.changeFees, (b) => b.storeCoins(10).storeCoins(25));
    h.expectRefused(r, root.address, ERR.badArgument);
    r = await send(stranger, OPS.changeFees, (b) => b.storeCoins(30).storeCoins(1));
    h.expectRefused(r, root.address, ERR.notOwner);
    r = await send(owner, OPS.changeParams, (b) => b.storeCoins(40).storeCoins(35).storeUint(1200, 32).storeUint(900, 32)
      .storeCoins(toNano('15')).storeCoins(toNano('5')));
    h.expectOk(r);
    const p = await get('get_cur_params');
    const cur = Array.from({ length: 11 }, () => p.readBigNumber());
    assert.deepEqual(cur, [3n, 1n, -1n, 40n, 35n, 10000n, 10000n, 1200n, 900n, toNano('15'), toNano('5')]);
    r = await send(owner, OPS.changeMultipliers, (b) => b.storeUint(10000, 32).storeUint(1000, 32).storeUint(12000, 32).storeUint(11000, 32));
    h.expectOk(r);
    const m = await get('get_multipliers');
    assert.deepEqual([m.readNumber(), m.readNumber(), m.readNumber(), m.readNumber()], [10000, 1000, 12000, 11000]);
    d = await cocoonData();
    assert.deepEqual([d.version, d.paramsVersion], [3, 4]);
    // new contract code goes into the params too
    const code = (s) => beginCell().storeUint(s, 8).endCell();
    r = await send(owner, OPS.upgradeContracts, (b) => b.storeRef(code(1)).storeRef(code(2)).storeRef(code(3)));
    h.expectOk(r);
    const q = await get('get_cur_params');
    const all = Array.from({ length: 14 }, () => q.readBigNumber());
    assert.deepEqual(all.slice(11), [1, 2, 3].map((i) => big(code(i).hash())));
  });

  it('hands ownership over and refuses unknown ops and short messages', async () => {
    let r = await send(owner, OPS.changeOwner, (b) => b.storeAddress(stranger.address));
    h.expectOk(r);
    assert.ok((await cocoonData()).owner.equals(stranger.address));
    r = await send(owner, OPS.addWorker, (b) => b.storeBuffer(hash('x')));
    h.expectRefused(r, root.address, ERR.notOwner);
    r = await send(stranger, 0x11111111, (b) => b);
    h.expectRefused(r, root.address, ERR.unknownOp);
    r = await send(stranger, OPS.addWorker, (b) => b.storeUint(1, 8));
    assert.equal(h.txOn(r, root.address).ok, false);
  });
});
