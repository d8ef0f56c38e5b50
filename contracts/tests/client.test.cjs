// client.test: the client contract in the emulator: deposits, charges by signed totals, refusals,
// withdrawals, and the refund path when the proxy disappears.
// SPDX-License-Identifier: Apache-2.0
'use strict';
const { describe, it, before, beforeEach } = require('node:test');
const assert = require('node:assert/strict');
const h = require('./helpers.cjs');
const { OP, ERR, toNano } = h;

describe('client contract', () => {
  let n, base;
  before(async () => {
    n = await h.network();
    base = n.bc.snapshot();
  });
  beforeEach(async () => { await n.bc.loadFrom(base); });

  it('is deployed by a top-up whose coins sit in the proxy contract', async () => {
    const c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.state, 0);
    assert.equal(c.balance, toNano('10'));
    assert.equal(c.stake, n.params.minClientStake);
    assert.ok(c.owner.equals(n.clientOwner.address) && c.proxy.equals(n.proxy.address));
    assert.equal(c.key, BigInt('0x' + n.key.pub.toString('hex')));
    // no time has passed, so no storage fees: the client keeps exactly 0.11 TON, the proxy its
    // 0.01 TON floor plus its stake plus the deposit, plus the 1 nanoTON of the worker's register
    // notification (too little to run the proxy's code, so it just stays)
    assert.equal(await h.balance(n.bc, n.client.address), toNano('0.11'));
    assert.equal(await h.balance(n.bc, n.proxy.address), toNano('0.01') + n.params.minProxyStake + toNano('10') + 1n);
  });

  it('takes a top-up from anyone; the proxy pool grows by exactly the amount', async () => {
    const r = await n.send(n.stranger, n.client.address, toNano('3.5'),
      h.body(OP.clientTopUp, 5, (b) => b.storeCoins(toNano('3')).storeAddress(n.stranger.address)));
    h.expectOk(r);
    assert.equal((await h.clientData(n.bc, n.client.address)).balance, toNano('13'));
    assert.equal(r.delta(n.proxy.address), toNano('3'));
    assert.equal(r.delta(n.client.address), 0n);
    const ex = h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.excesses);
    assert.ok(ex.to.equals(n.stranger.address));
    // the stranger paid 3 TON plus every fee of the chain of transactions, nothing more
    // (every transaction's total fees plus every message's forward fee along the chain)
    const fees = r.transactions.map(h.txInfo).reduce((s, t) => s + t.fees + t.outs.reduce((x, o) => x + o.fwd, 0n), 0n);
    assert.equal(-r.delta(n.stranger.address), toNano('3') + fees);
  });

  it('refuses a top-up that does not cover amount and commission', async () => {
    const r = await n.send(n.stranger, n.client.address, toNano('3.05'),
      h.body(OP.clientTopUp, 5, (b) => b.storeCoins(toNano('3')).storeAddress(n.stranger.address)));
    h.expectRefused(r, n.client.address, ERR.lowMsgValue);
    assert.equal((await h.clientData(n.bc, n.client.address)).balance, toNano('10'));
  });

  it('charges by a proxy-signed cumulative total and refuses replays, lower totals, misaddressed and badly signed ones', async () => {
    const charge = (total, opts) => h.payment(opts?.key ?? n.key, OP.clientChargeSigned, total,
      opts?.target ?? n.client.address, opts);
    let r = await n.send(n.clientOwner, n.client.address, toNano('0.5'), charge(1000));
    h.expectOk(r);
    let c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.tokensUsed, 1000n);
    assert.equal(c.balance, toNano('10') - 1000n * n.params.pricePerToken);
    assert.equal(r.delta(n.client.address), 0n);
    const t = h.txOn(r, n.client.address);
    const note = t.outs.find((o) => o.op === OP.clientProxyRequest);
    assert.ok(note.to.equals(n.proxy.address));
    assert.equal(note.value, 1n);
    assert.ok(t.outs.find((o) => o.op === OP.excesses).to.equals(n.clientOwner.address));

    r = await n.send(n.stranger, n.client.address, toNano('0.5'), charge(1000));
    h.expectRefused(r, n.client.address, ERR.replayed);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), charge(999));
    h.expectRefused(r, n.client.address, ERR.lowerTotal);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), charge(2000, { target: n.worker.address }));
    h.expectRefused(r, n.client.address, ERR.misaddressed);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), charge(2000, { key: h.keyFromSeed(Buffer.alloc(32, 1)) }));
    h.expectRefused(r, n.client.address, ERR.badSignature);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), charge(2000, { innerQid: 8 }));
    h.expectRefused(r, n.client.address, ERR.signedMismatch);
    r = await n.send(n.stranger, n.client.address, toNano('0.05'), charge(2000));
    h.expectRefused(r, n.client.address, ERR.lowMsgValue);
    // a payout signed for the worker op is not a charge
    r = await n.send(n.stranger, n.client.address, toNano('0.5'),
      h.payment(n.key, OP.workerPayoutSigned, 2000, n.client.address));
    h.expectRefused(r, n.client.address, ERR.unknownOp);
    c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.tokensUsed, 1000n);
    assert.equal(c.balance, toNano('10') - 20000n);

    // the next higher total charges only the difference; an excess address in the message is honoured
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), charge(1500, { excess: n.workerOwner.address }));
    h.expectOk(r);
    assert.ok(h.txOn(r, n.client.address).outs.find((o) => o.op === OP.excesses).to.equals(n.workerOwner.address));
    c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.balance, toNano('10') - 1500n * 20n);
    // a total beyond the balance floors it at zero
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), charge(10n ** 12n));
    h.expectOk(r);
    assert.equal((await h.clientData(n.bc, n.client.address)).balance, 0n);
  });

  it('registers, changes the secret hash and raises the stake for the owner only', async () => {
    let r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientRegister, 11, (b) => b.storeUint(777, 64).storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    const note = h.txOn(r, n.client.address).outs.find((o) => o.op === OP.clientProxyRequest);
    const s = note.body.beginParse();
    s.loadUint(32); assert.equal(s.loadUintBig(64), 11n); assert.ok(s.loadAddress().equals(n.clientOwner.address));
    s.loadRef();
    const p = s.loadMaybeRef().beginParse();
    assert.equal(p.loadUint(32), 0xa35cb580);
    assert.equal(p.loadUintBig(64), 777n);
    r = await n.send(n.stranger, n.client.address, toNano('0.2'),
      h.body(OP.clientRegister, 11, (b) => b.storeUint(777, 64).storeAddress(n.stranger.address)));
    h.expectRefused(r, n.client.address, ERR.notOwner);

    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientChangeSecretHash, 12, (b) => b.storeUint(0xabcdefn, 256).storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    assert.equal((await h.clientData(n.bc, n.client.address)).secretHash, 0xabcdefn);
    r = await n.send(n.stranger, n.client.address, toNano('0.2'),
      h.body(OP.clientChangeSecretHash, 12, (b) => b.storeUint(1, 256).storeAddress(n.stranger.address)));
    h.expectRefused(r, n.client.address, ERR.notOwner);

    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientIncreaseStake, 13, (b) => b.storeCoins(toNano('2')).storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    assert.equal((await h.clientData(n.bc, n.client.address)).stake, toNano('2'));
    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientIncreaseStake, 13, (b) => b.storeCoins(toNano('1.5')).storeAddress(n.clientOwner.address)));
    h.expectRefused(r, n.client.address, ERR.badArgument);
    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'), h.body(0x12345678, 1));
    h.expectRefused(r, n.client.address, ERR.unknownOp);
  });

  it('withdraws exactly the balance above the stake, paid by the proxy contract', async () => {
    let r = await n.send(n.stranger, n.client.address, toNano('0.2'),
      h.body(OP.clientWithdraw, 21, (b) => b.storeAddress(n.stranger.address)));
    h.expectRefused(r, n.client.address, ERR.notOwner);
    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientWithdraw, 21, (b) => b.storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    const pay = h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout);
    assert.ok(pay.to.equals(n.clientOwner.address));
    assert.equal(pay.value, toNano('9'));
    assert.equal(r.delta(n.proxy.address), -toNano('9'));
    assert.equal((await h.clientData(n.bc, n.client.address)).balance, toNano('1'));
    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientWithdraw, 22, (b) => b.storeAddress(n.clientOwner.address)));
    h.expectRefused(r, n.client.address, ERR.lowSmcBalance);
  });

  it('recovers everything when the proxy disappears: above the stake at once, the stake after the delay', async () => {
    // the proxy charged 100000 tokens (2,000,000 nanoTON), then vanished
    let r = await n.send(n.clientOwner, n.client.address, toNano('0.5'),
      h.payment(n.key, OP.clientChargeSigned, 100000, n.client.address));
    h.expectOk(r);
    const left = toNano('10') - 2000000n;
    const refund = () => n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientRequestRefund, 31, (b) => b.storeAddress(n.clientOwner.address)));
    r = await refund();
    h.expectOk(r);
    let pay = h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout);
    assert.equal(pay.value, left - toNano('1'));
    assert.ok(pay.to.equals(n.clientOwner.address));
    let c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.state, 1);
    assert.equal(c.balance, toNano('1'));
    assert.equal(c.unlockTs, n.bc.now + 300);

    // during the delay: no second refund, no top-up, no withdraw
    n.bc.now += 299;
    r = await refund();
    h.expectRefused(r, n.client.address, ERR.notUnlocked);
    r = await n.send(n.clientOwner, n.client.address, toNano('1.2'),
      h.body(OP.clientTopUp, 5, (b) => b.storeCoins(toNano('1')).storeAddress(n.clientOwner.address)));
    h.expectRefused(r, n.client.address, ERR.closed);
    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientWithdraw, 22, (b) => b.storeAddress(n.clientOwner.address)));
    h.expectRefused(r, n.client.address, ERR.closed);

    n.bc.now += 1;
    const stakeBefore = (await h.proxyData(n.bc, n.proxy.address)).stake;
    r = await refund();
    h.expectOk(r);
    pay = h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout);
    assert.equal(pay.value, toNano('1'));
    const t = h.txOn(r, n.proxy.address);
    assert.equal(r.delta(n.proxy.address), -toNano('1') - t.storage);
    assert.equal((await h.proxyData(n.bc, n.proxy.address)).stake, stakeBefore - toNano('1'));
    c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.state, 2);
    assert.equal(c.balance, 0n);
    r = await refund();
    h.expectRefused(r, n.client.address, ERR.closed);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'),
      h.payment(n.key, OP.clientChargeSigned, 200000, n.client.address));
    h.expectRefused(r, n.client.address, ERR.closed);
  });

  it('still takes the proxy\'s charges during the close delay, before the forced refund', async () => {
    let r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientRequestRefund, 31, (b) => b.storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'),
      h.payment(n.key, OP.clientChargeSigned, 25000000, n.client.address));
    h.expectOk(r);
    const c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.state, 1);
    assert.equal(c.balance, toNano('1') - 25000000n * 20n);
    n.bc.now += 300;
    r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientRequestRefund, 32, (b) => b.storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    assert.equal(h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout).value, toNano('0.5'));
  });

  it('a forced refund never takes more than the proxy stake', async () => {
    // stake 5 TON on a 10 TON deposit, proxy stake 2 TON
    let r = await n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientIncreaseStake, 13, (b) => b.storeCoins(toNano('5')).storeAddress(n.clientOwner.address)));
    h.expectOk(r);
    const refund = () => n.send(n.clientOwner, n.client.address, toNano('0.2'),
      h.body(OP.clientRequestRefund, 31, (b) => b.storeAddress(n.clientOwner.address)));
    r = await refund();
    assert.equal(h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout).value, toNano('5'));
    n.bc.now += 300;
    r = await refund();
    h.expectOk(r);
    assert.equal(h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout).value, n.params.minProxyStake);
    assert.equal((await h.proxyData(n.bc, n.proxy.address)).stake, 0n);
  });

  it('closes cooperatively by a proxy-signed grant refund with the final total', async () => {
    const grant = (total, opts) => h.payment(n.key, OP.clientGrantRefundSigned, total, opts?.target ?? n.client.address, opts);
    let r = await n.send(n.stranger, n.client.address, toNano('0.5'), grant(500, { target: n.proxy.address }));
    h.expectRefused(r, n.client.address, ERR.misaddressed);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), grant(500, { excess: n.stranger.address }));
    h.expectOk(r);
    const pay = h.txOn(r, n.proxy.address).outs.find((o) => o.op === OP.payout);
    assert.ok(pay.to.equals(n.clientOwner.address));
    assert.equal(pay.value, toNano('10') - 500n * 20n);
    const c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.state, 2);
    assert.equal(c.tokensUsed, 500n);
    assert.equal(c.balance, 0n);
    assert.equal(await h.balance(n.bc, n.client.address), toNano('0.01'));
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), grant(600));
    h.expectRefused(r, n.client.address, ERR.closed);
  });

  it('the proxy contract refuses client notifications from any other address', async () => {
    const { beginCell } = require('@ton/core');
    const payload = beginCell().storeUint(0xc68ebc7b, 32).storeCoins(toNano('5')).storeAddress(n.stranger.address)
      .endCell();
    const forged = beginCell().storeUint(OP.clientProxyRequest, 32).storeUint(1, 64).storeAddress(n.stranger.address)
      .storeRef(h.body(0, 0)).storeMaybeRef(payload).endCell();
    const r = await n.send(n.stranger, n.proxy.address, toNano('0.2'), forged);
    h.expectRefused(r, n.proxy.address, ERR.senderMismatch);
  });
});
