// c_signed.test: payments signed by the C code (`cocoon ton sign-payment`, src/ton/payment.c) are
// accepted by the contracts in the emulator, byte for byte what @ton/core builds, and a replay is refused.
// SPDX-License-Identifier: Apache-2.0
'use strict';
const { describe, it, before } = require('node:test');
const assert = require('node:assert/strict');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { execFileSync } = require('node:child_process');
const { Cell } = require('@ton/core');
const h = require('./helpers.cjs');
const { OP, ERR, toNano } = h;

const BIN = process.env.COCOON_BIN;
const skip = BIN ? false : 'COCOON_BIN is not set: the C-signed payment tests need the cocoon binary (make test sets it)';

describe('payments signed in C', { skip }, () => {
  let dir, pemKey, pemPub, hexKey, hexSeed;
  const sign = (keyFile, op, qid, total, target, extra = []) => Cell.fromBoc(Buffer.from(execFileSync(BIN,
    ['ton', 'sign-payment', '--key', keyFile, '--op', op, '--query-id', String(qid), '--total', String(total),
      '--target', target.toRawString(), ...extra], { encoding: 'utf8' }).trim(), 'hex'))[0];

  before(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cocoon-contracts-'));
    // the proxy's own key file, as `cocoon keygen` writes it (PEM, 0600)
    const out = execFileSync(BIN, ['keygen', '--dir', path.join(dir, 'k')], { encoding: 'utf8' });
    pemPub = Buffer.from(/public_key: ([0-9a-f]{64})/.exec(out)[1], 'hex');
    pemKey = path.join(dir, 'k', 'key.pem');
    // and a raw seed, so that JS can sign the same payment
    hexSeed = Buffer.alloc(32, 0x5a);
    hexKey = path.join(dir, 'seed.hex');
    fs.writeFileSync(hexKey, hexSeed.toString('hex') + '\n', { mode: 0o600 });
  });
  process.on('exit', () => { if (dir) fs.rmSync(dir, { recursive: true, force: true }); });

  it('a client charge signed with the keygen key is accepted once; its replay is refused', async () => {
    const n = await h.network({ key: { pub: pemPub } });
    const msg = sign(pemKey, 'charge', 5, 1234, n.client.address);
    let r = await n.send(n.clientOwner, n.client.address, toNano('0.5'), msg);
    h.expectOk(r);
    const c = await h.clientData(n.bc, n.client.address);
    assert.equal(c.tokensUsed, 1234n);
    assert.equal(c.balance, toNano('10') - 1234n * n.params.pricePerToken);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), msg);
    h.expectRefused(r, n.client.address, ERR.replayed);
    // a higher total signed later is accepted, then the older one is lower
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), sign(pemKey, 'charge', 6, 2000, n.client.address));
    h.expectOk(r);
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), msg);
    h.expectRefused(r, n.client.address, ERR.lowerTotal);
    // signed for another contract
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), sign(pemKey, 'charge', 7, 3000, n.worker.address));
    h.expectRefused(r, n.client.address, ERR.misaddressed);
    // signed by another key
    r = await n.send(n.stranger, n.client.address, toNano('0.5'), sign(hexKey, 'charge', 8, 3000, n.client.address));
    h.expectRefused(r, n.client.address, ERR.badSignature);
  });

  it('a worker payout signed in C pays the worker exactly; its replay is refused', async () => {
    const n = await h.network({ key: { pub: pemPub } });
    const msg = sign(pemKey, 'payout', 9, 1000, n.worker.address, ['--excess', n.workerOwner.address.toString()]);
    let r = await n.send(n.workerOwner, n.worker.address, toNano('0.5'), msg);
    h.expectOk(r);
    const t = h.txOn(r, n.proxy.address);
    assert.equal(t.outs.find((o) => o.op === OP.payout).value, 1000n * n.params.workerFeePerToken);
    assert.ok(t.outs.find((o) => o.op === OP.excesses).to.equals(n.workerOwner.address));
    r = await n.send(n.workerOwner, n.worker.address, toNano('0.5'), msg);
    h.expectRefused(r, n.worker.address, ERR.replayed);
  });

  it('the C message equals the one @ton/core builds from the same inputs (deterministic Ed25519)', async () => {
    const n = await h.network({ key: h.keyFromSeed(hexSeed), topUp: 0n });
    for (const [op, code, target] of [['charge', OP.clientChargeSigned, n.client.address],
      ['grant-refund', OP.clientGrantRefundSigned, n.client.address], ['payout', OP.workerPayoutSigned, n.worker.address],
      ['last-payout', OP.workerLastPayoutSigned, n.worker.address]]) {
      const c = sign(hexKey, op, 123456789, 987654321, target);
      const js = h.payment(n.key, code, 987654321, target, { qid: 123456789 });
      assert.equal(c.hash().toString('hex'), js.hash().toString('hex'), op);
      assert.equal(c.toBoc().toString('hex'), js.toBoc().toString('hex'), op);
    }
  });
});
