// proxy_worker.test: the proxy contract (stake, save-state anchor, earnings, close) and the worker
// contract (payouts by signed totals) in the emulator, balances to the nanoTON.
// SPDX-License-Identifier: Apache-2.0
'use strict';
const { describe, it, before, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const { beginCell } = require('@ton/core');
const h = require('./helpers.cjs');
const { OP, ERR, toNano } = h;

describe('worker contract', () => {
  let n, base;
  before(async () => {
    n = await h.network();
    base = n.bc.snapshot();
  });
  beforeEach(async () => { await n.bc.loadFrom(base); });

  it('pays out by a proxy-signed cumulative total: fee to the worker owner, the margin to the proxy earnings', async () => {
    const w = await h.workerData(n.bc, n.worker.address);
    assert.equal(w.state, 0);
    assert.equal(w.tokens, 0n);
    assert.ok(w.owner.equals(n.workerOwner.address) && w.proxy.equals(n.proxy.address));
    const payout = (total, opts) => h.payment(opts?.key ?? n.key, OP.workerPayoutSigned, total,
      opts?.target ?? n.worker.address, opts);
    let r = await n.send(n.stranger, n.worker.address, toNano('0.5'), payout(1000, { excess: n.stranger.address }));
    h.expectOk(r);
    const t = h.txOn(r, n.proxy.address);
    const pay = t.outs.find((o) => o.op === OP.payout);
    assert.ok(pay.to.equals(n.workerOwner.address));
    assert.equal(pay.value, 1000n * n.params.workerFeePerToken);
    assert.ok(t.outs.find((o) => o.op === OP.excesses).to.equals(n.stranger.address));
    // the pool pays exactly the fee; the worker contract keeps exactly what it had
    assert.equal(r.delta(n.proxy.address), -19000n);
    assert.equal(r.delta(n.worker.address), 0n);
    assert.equal((await h.workerData(n.bc, n.worker.address)).tokens, 1000n);
    assert.equal((await h.proxyData(n.bc, n.proxy.address)).balance, 1000n);

    r = await n.send(n.stranger, n.worker.address, toNano('0.5'), payout(1000));
    h.expectRefused(r, n.worker.address, ERR.replayed);
    r = await n.send(n.stranger, n.worker.address, toNano('0.5'), payout(10));
    h.expectRefused(r, n.worker.address, ERR.lowerTotal);
    r = await n.send(n.stranger, n.worker.address, toNano('0.5'), payout(2000, { target: n.client.address }));
    h.expectRefused(r, n.worker.address, ERR.misaddressed);
    r = await n.send(n.stranger, n.worker.address, toNano('0.5'), payout(2000, { key: h.keyFromSeed(Buffer.alloc(32, 2)) }));
    h.expectRefused(r, n.worker.address, ERR.badSignature);
    r = await n.send(n.stranger, n.worker.address, toNano('0.5'), payout(2000, { innerOp: OP.workerLastPayoutSigned }));
    h.expectRefused(r, n.worker.address, ERR.signedMismatch);
    // a client charge signed for this address is not a payout
    r = await n.send(n.stranger, n.worker.address, toNano('0.5'),
      h.payment(n.key, OP.clientChargeSigned, 2000, n.worker.address));
    h.expectRefused(r, n.worker.address, ERR.unknownOp);

    r = await n.send(n.workerOwner, n.worker.address, toNano('0.5'), payout(3000));
    h.expectOk(r);
    assert.equal(h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout).value, 2000n * 19n);
    assert.equal((await h.proxyData(n.bc, n.proxy.address)).balance, 3000n);
  });

  it('the proxy refuses a payout larger than its pool; the worker contract gets the TON back', async () => {
    // the pool holds 0.01 TON + the 2 TON stake + 10 TON of deposits; 10^9 tokens at 19 nanoTON is 19 TON
    const before = await h.balance(n.bc, n.worker.address);
    const r = await n.send(n.stranger, n.worker.address, toNano('0.5'),
      h.payment(n.key, OP.workerPayoutSigned, 10n ** 9n, n.worker.address));
    h.expectRefused(r, n.proxy.address, ERR.lowSmcBalance);
    // COCOON's behaviour: the worker's total has moved on; the proxy daemon must sign only what
    // its pool can pay. The refused value bounces back to the worker contract.
    assert.equal((await h.workerData(n.bc, n.worker.address)).tokens, 10n ** 9n);
    assert.ok(h.txsOn(r, n.worker.address).length === 2);
    assert.ok(await h.balance(n.bc, n.worker.address) > before);
  });

  it('closes on the last payout', async () => {
    let r = await n.send(n.stranger, n.worker.address, toNano('0.5'),
      h.payment(n.key, OP.workerLastPayoutSigned, 500, n.worker.address));
    h.expectOk(r);
    assert.equal(h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout).value, 500n * 19n);
    const w = await h.workerData(n.bc, n.worker.address);
    assert.equal(w.state, 2);
    r = await n.send(n.stranger, n.worker.address, toNano('0.5'),
      h.payment(n.key, OP.workerPayoutSigned, 600, n.worker.address));
    h.expectRefused(r, n.worker.address, ERR.closed);
  });

  it('registers for its owner only; the proxy refuses worker requests from other addresses', async () => {
    let r = await n.send(n.stranger, n.worker.address, toNano('0.2'),
      h.body(OP.workerRegister, 4, (b) => b.storeAddress(n.stranger.address)));
    h.expectRefused(r, n.worker.address, ERR.notOwner);
    const forged = beginCell().storeUint(OP.workerProxyRequest, 32).storeUint(1, 64).storeAddress(n.stranger.address)
      .storeUint(0, 2).storeUint(10n ** 9n, 64)
      .storeMaybeRef(beginCell().storeUint(0x08e7d036, 32).storeCoins(toNano('1')).storeCoins(0)
        .storeAddress(n.stranger.address).endCell())
      .endCell();
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), forged);
    h.expectRefused(r, n.proxy.address, ERR.senderMismatch);
  });
});

describe('proxy contract', () => {
  let n, base;
  before(async () => {
    n = await h.network();
    base = n.bc.snapshot();
  });
  beforeEach(async () => { await n.bc.loadFrom(base); });

  it('has its stake and parameters', async () => {
    const p = await h.proxyData(n.bc, n.proxy.address);
    assert.equal(p.state, 0);
    assert.equal(p.stake, n.params.minProxyStake);
    assert.equal(p.balance, 0n);
    assert.equal(p.price, 20n);
    assert.equal(p.workerFee, 19n);
    assert.ok(p.owner.equals(n.proxyOwner.address) && p.root.equals(n.root.address));
  });

  it('adds to its stake exactly the amount given', async () => {
    let r = await n.send(n.proxyOwner, n.proxy.address, toNano('1.2'),
      h.body(OP.proxyIncreaseStake, 5, (b) => b.storeCoins(toNano('1')).storeAddress(n.proxyOwner.address)));
    h.expectOk(r);
    assert.equal(r.delta(n.proxy.address), toNano('1'));
    assert.equal((await h.proxyData(n.bc, n.proxy.address)).stake, n.params.minProxyStake + toNano('1'));
    r = await n.send(n.proxyOwner, n.proxy.address, toNano('1.05'),
      h.body(OP.proxyIncreaseStake, 5, (b) => b.storeCoins(toNano('1')).storeAddress(n.proxyOwner.address)));
    h.expectRefused(r, n.proxy.address, ERR.lowMsgValue);
  });

  it('accepts a save-state anchor and changes nothing', async () => {
    const before = await h.proxyData(n.bc, n.proxy.address);
    const anchor = beginCell().storeUint(OP.doNotProcess, 32).storeUint(77, 64).storeUint(OP.proxySaveState, 32)
      .storeInt(42, 32).storeUint(0x1234n, 256).endCell();
    const r = await n.send(n.proxyOwner, n.proxy.address, toNano('0.01'), anchor);
    h.expectOk(r);
    const t = h.txOn(r, n.proxy.address);
    assert.equal(t.op, OP.doNotProcess);
    assert.equal(t.outs.length, 0);
    const str = (o) => JSON.stringify(Object.entries(o).map(([k, v]) => [k, String(v)]));
    assert.equal(str(await h.proxyData(n.bc, n.proxy.address)), str(before));
  });

  it('pays its earnings to its owner on anyone\'s request', async () => {
    let r = await n.send(n.stranger, n.worker.address, toNano('0.5'),
      h.payment(n.key, OP.workerPayoutSigned, 1000000, n.worker.address));
    h.expectOk(r);
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'),
      h.body(OP.proxyPayoutRequest, 6, (b) => b.storeAddress(n.stranger.address)));
    h.expectOk(r);
    const pay = h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout);
    assert.ok(pay.to.equals(n.proxyOwner.address));
    assert.equal(pay.value, 1000000n);
    assert.equal(r.delta(n.proxy.address), -1000000n);
    assert.equal((await h.proxyData(n.bc, n.proxy.address)).balance, 0n);
  });

  it('closes in two steps: a signed or owner close, then after the delay a signed close-complete pays everything to the owner', async () => {
    const close = (op, opts) => h.closeSigned(opts?.key ?? n.key, op, opts?.target ?? n.proxy.address, opts);
    let r = await n.send(n.stranger, n.proxy.address, toNano('0.2'),
      h.body(OP.ownerProxyClose, 1, (b) => b.storeAddress(n.stranger.address)));
    h.expectRefused(r, n.proxy.address, ERR.notOwner);
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), close(OP.proxyCloseSigned, { key: h.keyFromSeed(Buffer.alloc(32, 3)) }));
    h.expectRefused(r, n.proxy.address, ERR.badSignature);
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), close(OP.proxyCloseSigned, { target: n.client.address }));
    h.expectRefused(r, n.proxy.address, ERR.misaddressed);
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), close(OP.proxyCloseCompleteSigned));
    h.expectRefused(r, n.proxy.address, ERR.closed);

    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), close(OP.proxyCloseSigned));
    h.expectOk(r);
    let p = await h.proxyData(n.bc, n.proxy.address);
    assert.equal(p.state, 1);
    assert.equal(p.unlockTs, n.bc.now + 600);
    r = await n.send(n.proxyOwner, n.proxy.address, toNano('0.2'),
      h.body(OP.ownerProxyClose, 1, (b) => b.storeAddress(n.proxyOwner.address)));
    h.expectRefused(r, n.proxy.address, ERR.closed);

    // a closing proxy hands a new deposit straight back to the client's owner
    r = await n.send(n.clientOwner, n.client.address, toNano('1.2'),
      h.body(OP.clientTopUp, 5, (b) => b.storeCoins(toNano('1')).storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    const back = h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout);
    assert.ok(back.to.equals(n.clientOwner.address));
    assert.equal(back.value, toNano('1'));
    // refunds are still honoured while closing
    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientWithdraw, 21, (b) => b.storeAddress(n.clientOwner.address)));
    h.expectOk(r);

    n.bc.now += 599;
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), close(OP.proxyCloseCompleteSigned));
    h.expectRefused(r, n.proxy.address, ERR.notUnlocked);
    n.bc.now += 1;
    const pool = await h.balance(n.bc, n.proxy.address);
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), close(OP.proxyCloseCompleteSigned));
    h.expectOk(r);
    const t = h.txOn(r, n.proxy.address);
    const pay = t.outs.find((o) => o.op === OP.payout);
    assert.ok(pay.to.equals(n.proxyOwner.address));
    // everything but 0.01 TON leaves: the pool before, the message value, less this transaction's fees
    assert.equal(await h.balance(n.bc, n.proxy.address), toNano('0.01'));
    assert.equal(pay.value + pay.fwd, pool + toNano('0.2') - t.fees - toNano('0.01'));
    p = await h.proxyData(n.bc, n.proxy.address);
    assert.equal(p.state, 2);
    assert.equal(p.stake, 0n);
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), close(OP.proxyCloseCompleteSigned));
    h.expectRefused(r, n.proxy.address, ERR.closed);
    r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), h.body(0x7777, 0));
    h.expectRefused(r, n.proxy.address, ERR.unknownOp);
  });

  it('the owner may start the close too', async () => {
    const r = await n.send(n.proxyOwner, n.proxy.address, toNano('0.2'),
      h.body(OP.ownerProxyClose, 1, (b) => b.storeAddress(n.proxyOwner.address)));
    h.expectOk(r);
    assert.equal((await h.proxyData(n.bc, n.proxy.address)).state, 1);
  });
});
