"""One invalid block per consensus rule, each rejected with Bitcoin Core's reason.

A regtest chain of 115 blocks is built once for the module (coinbases alternate
between P2WPKH and P2PKH, so both kinds are mature; block 102 funds P2SH, P2WSH and
P2TR outputs and a transaction whose outputs stay unspent for the BIP30 case). Each
case builds a block on the current tip that breaks exactly one rule, submits it as
submitblock would (serialized and parsed again), and checks:

* the result is Core's reject reason, character for character;
* the tip, the coins' best block and every coin the block touches are unchanged;
* the block index records what Core records: nothing for failures of CheckBlock and
  of the header checks, a failed entry for contextual failures (block not stored) and
  for connect failures (block stored), and a header that is *not* marked failed for
  mutated (malleated witness) blocks;
* resubmitting gives "duplicate-invalid" for a block marked failed, else the same reason;
* a valid block, spending a coin the invalid one tried to spend, then connects.

Valid blocks sitting exactly on each limit are checked to connect, so every rule is
pinned from both sides.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pytest

from pyrite.consensus.params import get_params
from pyrite.consensus.subsidy import get_block_subsidy
from pyrite.consensus.tx_rules import SEQUENCE_LOCKTIME_TYPE_FLAG
from pyrite.consensus.validation import coinbase_height_script
from pyrite.crypto.hashes import sha256
from pyrite.errors import BlockValidationError
from pyrite.primitives import Block, OutPoint, Tx, TxIn, TxOut
from pyrite.primitives.tx import COIN, MAX_MONEY, NULL_HASH
from pyrite.script.script import LOCKTIME_THRESHOLD, push_data
from tests.integration.chainutil import (
    OP_CHECKMULTISIG,
    OP_CHECKSIG,
    OP_TRUE,
    ChainBuilder,
    Key,
    corrupt_signature,
    op_return_script,
    replace_tx,
    roundtrip,
    spent_outpoints,
    unsolve,
    with_txs,
)

#: What the block index holds afterwards: nothing (CheckBlock and header failures); the
#: header, not marked (malleated witness); marked failed without the block data
#: (ContextualCheckBlock) or with it (ConnectBlock: the block was stored first).
IndexState = Literal["absent", "header-only", "failed-unstored", "failed-stored"]

MAX_BLOCK_BASE_SIZE = 1_000_000
MAX_BLOCK_WEIGHT = 4_000_000
MAX_BLOCK_SIGOPS_COST = 80_000
NONFINAL_SEQUENCE = 0xFFFFFFFE

# Core's ScriptErrorString texts (script/script_error.cpp).
EVAL_FALSE = "Script evaluated without error but finished with a false/empty top stack element"
SIG_DER = "Non-canonical DER signature"
EQUALVERIFY = "Script failed an OP_EQUALVERIFY operation"
WITNESS_MISMATCH = "Witness program hash mismatch"
WITNESS_MALLEATED = "Witness requires empty scriptSig"
SCHNORR_SIG = "Invalid Schnorr signature"

#: 520 bytes of OP_CHECKMULTISIG: 20 sigops each when counted accurately (P2SH).
HEAVY_REDEEM = bytes([OP_CHECKMULTISIG]) * 520
#: a witness script of 4,001 OP_CHECKSIG (witness sigops cost 1 each).
HEAVY_WITNESS_SCRIPT = bytes([OP_CHECKSIG]) * 4_001


def script_failed(text: str) -> str:
    return f"block-script-verify-flag-failed ({text})"


@dataclass
class Env:
    cb: ChainBuilder
    bip30_tx: Tx  # confirmed at height 102; its outputs are never spent
    p2sh_heavy: list[OutPoint]  # two P2SH(HEAVY_REDEEM) coins
    p2wsh_heavy: OutPoint  # a P2WSH(HEAVY_WITNESS_SCRIPT) coin

    @property
    def key(self) -> Key:
        return self.cb.key

    def next_height(self) -> int:
        return self.cb.tip.height + 1

    def coins(self, n: int = 1, kind: str = "p2wpkh") -> list[OutPoint]:
        """The ``n`` oldest spendable outputs paying the key's ``kind`` (bip30_tx's aside)."""
        spk = {"p2wpkh": self.key.p2wpkh, "p2pkh": self.key.p2pkh, "p2tr": self.key.p2tr}[kind]
        found = [op for op in self.cb.spendable(spk) if op.txid != self.bip30_tx.txid]
        assert len(found) >= n, f"only {len(found)} spendable {kind} outputs left"
        return found[:n]

    def coin(self, kind: str = "p2wpkh") -> OutPoint:
        return self.coins(1, kind)[0]

    def value(self, outpoint: OutPoint) -> int:
        out = self.cb.coin_out(outpoint)
        assert out is not None
        return out.value


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    built = build_env(tmp_path_factory.mktemp("invalid-blocks"))
    yield built
    built.cb.close()


def build_env(datadir: Path) -> Env:
    """The 115-block chain the cases build on (also used by the interop suite)."""
    cb = ChainBuilder(datadir)
    key = cb.key
    for height in range(1, 102):
        cb.mine(1, coinbase_script=key.p2pkh if height % 2 else key.p2wpkh)
    bip30_tx = cb.spend(cb.coinbase_outpoint(1), outputs=[TxOut(10 * COIN, key.p2wpkh),
                                                          TxOut(39 * COIN, key.p2pkh)])  # fmt: skip
    sh, _ = cb.register_script(HEAVY_REDEEM)
    _, wsh = cb.register_script(HEAVY_WITNESS_SCRIPT)
    fund_outputs = [TxOut(COIN, sh), TxOut(COIN, sh), TxOut(COIN, wsh)]
    fund_outputs += [TxOut(2 * COIN, key.p2tr) for _ in range(4)]
    fund = cb.spend(cb.coinbase_outpoint(2), outputs=[*fund_outputs, TxOut(39 * COIN, key.p2wpkh)])
    cb.mine(1, txs=[bip30_tx, fund], coinbase_script=key.p2pkh)
    for height in range(103, 116):
        cb.mine(1, coinbase_script=key.p2pkh if height % 2 else key.p2wpkh)
    assert cb.cs.height() == 115
    return Env(
        cb=cb,
        bip30_tx=bip30_tx,
        p2sh_heavy=[OutPoint(fund.txid, 0), OutPoint(fund.txid, 1)],
        p2wsh_heavy=OutPoint(fund.txid, 2),
    )


# --------------------------------------------------------------------------- cases


@dataclass(frozen=True)
class Case:
    id: str
    reason: str
    index: IndexState  # what the block index holds for the block afterwards
    build: Callable[[Env], Block]


CASES: list[Case] = []


def case(id: str, reason: str, index: IndexState) -> Callable[[Callable[[Env], Block]], None]:
    def register(build: Callable[[Env], Block]) -> None:
        CASES.append(Case(id, reason, index, build))

    return register


def pad_to(build: Callable[[int], Block], measure: Callable[[Block], int], target: int) -> Block:
    """Build with a padding length chosen so that ``measure(block) == target``.

    A few rounds may be needed: ECDSA signatures and extra nonces vary in length.
    """
    pad = 0
    for _ in range(10):
        block = build(pad)
        size = measure(block)
        if size == target:
            return block
        pad += target - size
    raise AssertionError(f"could not build a block measuring exactly {target}")


def _with_witness(tx: Tx, witness: tuple[bytes, ...], script_sig: bytes | None = None) -> Tx:
    """``tx`` with another witness (and optionally scriptSig) on its first input."""
    old = tx.vin[0]
    ss = old.script_sig if script_sig is None else script_sig
    vin = (TxIn(old.prevout, ss, old.sequence, witness), *tx.vin[1:])
    return Tx(tx.version, vin, tx.vout, tx.locktime)


# --- CheckBlockHeader / ContextualCheckBlockHeader: the header never enters the index


@case("high-hash", "high-hash", "absent")
def _(env: Env) -> Block:
    return unsolve(env.cb.next_block(), env.cb.params)


@case("bad-diffbits", "bad-diffbits", "absent")
def _(env: Env) -> Block:
    return env.cb.next_block(bits=0x2000FFFF)  # a valid, harder target than required


@case("time-too-old", "time-too-old", "absent")
def _(env: Env) -> Block:
    return env.cb.next_block(time=env.cb.tip.median_time_past())


@case("time-too-new", "time-too-new", "absent")
def _(env: Env) -> Block:
    cb = env.cb
    return cb.next_block(time=cb.now() + cb.params.max_future_block_time + 1)


@case("bad-version-1", "bad-version(0x00000001)", "absent")
def _(env: Env) -> Block:
    return env.cb.next_block(version=1)  # BIP34 is active from height 1 on regtest


@case("bad-version-3", "bad-version(0x00000003)", "absent")
def _(env: Env) -> Block:
    return env.cb.next_block(version=3)  # BIP65 (version 4) is active from height 1


@case("bad-version-negative", "bad-version(0xffffffff)", "absent")
def _(env: Env) -> Block:
    return env.cb.next_block(version=-1)


# --- CheckBlock: not stored, not marked


@case("bad-txnmrklroot", "bad-txnmrklroot", "absent")
def _(env: Env) -> Block:
    late = env.cb.spend(env.coin())
    return env.cb.next_block(mutate=lambda b: with_txs(b, (*b.txs, late), update_merkle=False))


@case("bad-txns-duplicate", "bad-txns-duplicate", "absent")
def _(env: Env) -> Block:
    cb = env.cb
    chain = [cb.spend(env.coin())]
    for _ in range(4):
        chain.append(cb.spend(OutPoint(chain[-1].txid, 0)))

    def duplicate_last_pair(b: Block) -> Block:
        assert len(b.txs) == 6  # the last pair is hashed with itself one level up
        mutated = with_txs(b, (*b.txs, *b.txs[-2:]), update_merkle=False)
        assert with_txs(mutated, mutated.txs).header.merkle_root == b.header.merkle_root
        return mutated

    return cb.next_block(txs=chain, mutate=duplicate_last_pair)


def _big_block(env: Env, extra: int) -> Block:
    """A block without witness data whose base size is 1,000,000 + ``extra`` bytes."""
    cb = env.cb
    coins = env.coins(2, "p2pkh")

    def build(pad: int) -> Block:
        txs = [
            cb.spend(coins[0], outputs=[TxOut(0, op_return_script(bytes(480_000 + pad)))]),
            cb.spend(coins[1], outputs=[TxOut(0, op_return_script(bytes(480_000)))]),
        ]
        return cb.next_block(txs=txs, witness_commitment=False, coinbase_value=0, solve=False)

    block = pad_to(build, lambda b: b.base_size, MAX_BLOCK_BASE_SIZE + extra)
    assert not any(tx.has_witness() for tx in block.txs)
    return cb.solve(block)


@case("bad-blk-length", "bad-blk-length", "absent")
def _(env: Env) -> Block:
    return _big_block(env, 1)


@case("bad-cb-missing", "bad-cb-missing", "absent")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin())
    return env.cb.next_block(txs=[tx], mutate=lambda b: with_txs(b, b.txs[1:]))


@case("bad-cb-multiple", "bad-cb-multiple", "absent")
def _(env: Env) -> Block:
    cb = env.cb
    second = cb.make_coinbase(env.next_height(), 0, witness_nonce=False)
    return cb.next_block(mutate=lambda b: with_txs(b, (*b.txs, second)))


@case("bad-txns-vin-empty", "bad-txns-vin-empty", "absent")
def _(env: Env) -> Block:
    # No inputs and no outputs: the only input-less shape that survives serialization.
    return env.cb.next_block(txs=[Tx(2, (), (), 0)])


@case("bad-txns-vout-empty", "bad-txns-vout-empty", "absent")
def _(env: Env) -> Block:
    return env.cb.next_block(txs=[env.cb.spend(env.coin(), outputs=[])])


@case("bad-txns-vout-negative", "bad-txns-vout-negative", "absent")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), outputs=[TxOut(-1, env.key.p2wpkh)])
    return env.cb.next_block(txs=[tx])


@case("bad-txns-vout-toolarge", "bad-txns-vout-toolarge", "absent")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), outputs=[TxOut(MAX_MONEY + 1, env.key.p2wpkh)])
    return env.cb.next_block(txs=[tx])


@case("bad-txns-txouttotal-toolarge", "bad-txns-txouttotal-toolarge", "absent")
def _(env: Env) -> Block:
    outs = [TxOut(MAX_MONEY, env.key.p2wpkh), TxOut(1, env.key.p2wpkh)]
    return env.cb.next_block(txs=[env.cb.spend(env.coin(), outputs=outs)])


@case("bad-txns-inputs-duplicate", "bad-txns-inputs-duplicate", "absent")
def _(env: Env) -> Block:
    coin = env.coin()
    return env.cb.next_block(txs=[env.cb.spend([coin, coin])])


@case("bad-txns-prevout-null", "bad-txns-prevout-null", "absent")
def _(env: Env) -> Block:
    coin = env.coin()
    null = OutPoint(NULL_HASH, 0xFFFFFFFF)
    spent = [TxOut(env.value(coin), env.key.p2wpkh), TxOut(0, bytes([OP_TRUE]))]
    tx = env.cb.spend([coin, null], spent_outputs=spent)
    return env.cb.next_block(txs=[tx])


@case("bad-cb-length-short", "bad-cb-length", "absent")
def _(env: Env) -> Block:
    return env.cb.next_block(coinbase_script_sig=b"\x00")


@case("bad-cb-length-long", "bad-cb-length", "absent")
def _(env: Env) -> Block:
    height_push = coinbase_height_script(env.next_height())
    return env.cb.next_block(coinbase_script_sig=height_push + bytes(101 - len(height_push)))


@case("bad-blk-sigops-legacy", "bad-blk-sigops", "absent")
def _(env: Env) -> Block:
    outs = [TxOut(0, bytes([OP_CHECKSIG]) * (MAX_BLOCK_SIGOPS_COST // 4 + 1))]
    return env.cb.next_block(txs=[env.cb.spend(env.coin("p2pkh"), outputs=outs)])


# --- ContextualCheckBlock: marked failed, except for witness malleation


@case("bad-txns-nonfinal-locktime-height", "bad-txns-nonfinal", "failed-unstored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), locktime=env.next_height(), sequence=NONFINAL_SEQUENCE)
    return env.cb.next_block(txs=[tx])


@case("bad-txns-nonfinal-locktime-time", "bad-txns-nonfinal", "failed-unstored")
def _(env: Env) -> Block:
    mtp = env.cb.tip.median_time_past()  # BIP113: compared with the parent's MTP
    assert mtp >= LOCKTIME_THRESHOLD
    tx = env.cb.spend(env.coin(), locktime=mtp, sequence=NONFINAL_SEQUENCE)
    return env.cb.next_block(txs=[tx])


@case("bad-cb-height", "bad-cb-height", "failed-unstored")
def _(env: Env) -> Block:
    wrong = coinbase_height_script(env.next_height() + 1) + b"\x00"
    return env.cb.next_block(coinbase_script_sig=wrong)


@case("bad-witness-nonce-size", "bad-witness-nonce-size", "header-only")
def _(env: Env) -> Block:
    def long_nonce(b: Block) -> Block:
        # The coinbase witness is not part of its txid: the header still matches.
        return replace_tx(b, 0, _with_witness(b.txs[0], (bytes(33),)))

    return env.cb.next_block(mutate=long_nonce)


@case("bad-witness-merkle-match", "bad-witness-merkle-match", "header-only")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin())
    # Same txid, other wtxid: the header still matches, the commitment does not.
    return env.cb.next_block(txs=[tx], mutate=lambda b: replace_tx(b, 1, corrupt_signature(tx)))


@case("unexpected-witness", "unexpected-witness", "header-only")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin())
    return env.cb.next_block(txs=[tx], witness_commitment=False)


def _heavy_witness_block(env: Env, extra: int) -> Block:
    """A block weighing 4,000,000 + ``extra``: a taproot key-path spend with a big annex."""
    cb = env.cb
    coin = env.coin("p2tr")

    def build(pad: int) -> Block:
        tx = cb.spend(coin, annex=b"\x50" + bytes(3_900_000 + pad))
        return cb.next_block(txs=[tx], solve=False)

    return cb.solve(pad_to(build, lambda b: b.weight, MAX_BLOCK_WEIGHT + extra))


@case("bad-blk-weight", "bad-blk-weight", "failed-unstored")
def _(env: Env) -> Block:
    block = _heavy_witness_block(env, 1)
    assert block.base_size * 4 <= MAX_BLOCK_WEIGHT
    return block


# --- ConnectBlock: marked failed


@case("bad-txns-BIP30", "bad-txns-BIP30", "failed-stored")
def _(env: Env) -> Block:
    assert env.cb.cs.get_coin(OutPoint(env.bip30_tx.txid, 0)) is not None
    return env.cb.next_block(txs=[env.bip30_tx])


@case("bip30-after-an-earlier-failure", "bad-txns-BIP30", "failed-stored")
def _(env: Env) -> Block:
    # Core checks BIP30 before any input, so it names the repeat even though an earlier
    # transaction fails first (pyrite checks BIP30 once the block has failed, here)
    ghost = OutPoint(sha256(b"no such transaction"), 0)
    bad = env.cb.spend(ghost, spent_outputs=[TxOut(50 * COIN, env.key.p2wpkh)])
    return env.cb.next_block(txs=[bad, env.bip30_tx])


@case("missingorspent-unknown", "bad-txns-inputs-missingorspent", "failed-stored")
def _(env: Env) -> Block:
    ghost = OutPoint(sha256(b"no such transaction"), 0)
    tx = env.cb.spend(ghost, spent_outputs=[TxOut(50 * COIN, env.key.p2wpkh)])
    return env.cb.next_block(txs=[tx])


@case("missingorspent-spent-earlier", "bad-txns-inputs-missingorspent", "failed-stored")
def _(env: Env) -> Block:
    spent = env.bip30_tx.vin[0].prevout  # coinbase 1, spent at height 102
    assert env.cb.cs.get_coin(spent) is None
    return env.cb.next_block(txs=[env.cb.spend(spent, to_script=env.key.p2tr)])


@case("missingorspent-double-spend", "bad-txns-inputs-missingorspent", "failed-stored")
def _(env: Env) -> Block:
    coin = env.coin()
    first = env.cb.spend(coin, fee=1_000)
    second = env.cb.spend(coin, fee=2_000)
    return env.cb.next_block(txs=[first, second])


@case("missingorspent-child-first", "bad-txns-inputs-missingorspent", "failed-stored")
def _(env: Env) -> Block:
    parent = env.cb.spend(env.coin())
    child = env.cb.spend(OutPoint(parent.txid, 0))
    return env.cb.next_block(txs=[child, parent])


@case("premature-spend-of-coinbase", "bad-txns-premature-spend-of-coinbase", "failed-stored")
def _(env: Env) -> Block:
    young = env.cb.coinbase_outpoint(env.next_height() - 99)  # depth 99 < 100
    return env.cb.next_block(txs=[env.cb.spend(young)])


@case("bad-txns-in-belowout", "bad-txns-in-belowout", "failed-stored")
def _(env: Env) -> Block:
    coin = env.coin()
    return env.cb.next_block(txs=[env.cb.spend(coin, value=env.value(coin) + 1)])


@case("bad-cb-amount", "bad-cb-amount", "failed-stored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), fee=5_000)
    limit = get_block_subsidy(env.next_height(), env.cb.params) + 5_000
    return env.cb.next_block(txs=[tx], coinbase_value=limit + 1)


@case("bip68-height-lock", "bad-txns-nonfinal", "failed-stored")
def _(env: Env) -> Block:
    coin = env.coin()
    coin_height = env.cb.cs.get_coin(coin).height  # type: ignore[union-attr]
    confirmations = env.next_height() - coin_height
    tx = env.cb.spend(coin, version=2, sequence=confirmations + 1)
    return env.cb.next_block(txs=[tx])


@case("bip68-time-lock", "bad-txns-nonfinal", "failed-stored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), version=2, sequence=SEQUENCE_LOCKTIME_TYPE_FLAG | 0xFFFF)
    return env.cb.next_block(txs=[tx])


@case("bad-blk-sigops-p2sh-cost", "bad-blk-sigops", "failed-stored")
def _(env: Env) -> Block:
    # No legacy sigops at all; 2 x 520 x 20 P2SH sigops cost 83,200.
    tx = env.cb.spend(env.p2sh_heavy)
    return env.cb.next_block(txs=[tx])


@case("bad-blk-sigops-witness-cost", "bad-blk-sigops", "failed-stored")
def _(env: Env) -> Block:
    # 19,000 legacy sigops (76,000: CheckBlock's count passes) + 4,001 witness sigops.
    outs = [TxOut(0, bytes([OP_CHECKSIG]) * 19_000)]
    tx = env.cb.spend(env.p2wsh_heavy, outputs=outs)
    return env.cb.next_block(txs=[tx])


@case("bad-blk-sigops-p2wpkh-boundary", "bad-blk-sigops", "failed-stored")
def _(env: Env) -> Block:
    # Exactly 80,000 legacy cost (allowed by CheckBlock) plus the P2WPKH input's one.
    outs = [TxOut(0, bytes([OP_CHECKSIG]) * (MAX_BLOCK_SIGOPS_COST // 4))]
    return env.cb.next_block(txs=[env.cb.spend(env.coin("p2wpkh"), outputs=outs)])


@case("script-p2wpkh-bad-signature", script_failed(EVAL_FALSE), "failed-stored")
def _(env: Env) -> Block:
    return env.cb.next_block(txs=[corrupt_signature(env.cb.spend(env.coin("p2wpkh")))])


@case("script-p2pkh-bad-signature", script_failed(EVAL_FALSE), "failed-stored")
def _(env: Env) -> Block:
    return env.cb.next_block(txs=[corrupt_signature(env.cb.spend(env.coin("p2pkh")))])


@case("script-non-der-signature", script_failed(SIG_DER), "failed-stored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin("p2wpkh"))
    sig, pub = tx.vin[0].witness
    return env.cb.next_block(txs=[_with_witness(tx, (b"\x31" + sig[1:], pub))])


@case("script-p2wpkh-wrong-pubkey", script_failed(EQUALVERIFY), "failed-stored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin("p2wpkh"))
    sig, _ = tx.vin[0].witness
    other = Key(sha256(b"another key")).pubkey
    return env.cb.next_block(txs=[_with_witness(tx, (sig, other))])


@case("script-p2wpkh-witness-items", script_failed(WITNESS_MISMATCH), "failed-stored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin("p2wpkh"))
    return env.cb.next_block(txs=[_with_witness(tx, (*tx.vin[0].witness, b""))])


@case("script-p2wpkh-scriptsig", script_failed(WITNESS_MALLEATED), "failed-stored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin("p2wpkh"))
    return env.cb.next_block(txs=[_with_witness(tx, tx.vin[0].witness, push_data(b"\x01"))])


@case("script-p2tr-bad-signature", script_failed(SCHNORR_SIG), "failed-stored")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin("p2tr"))
    sig = bytearray(tx.vin[0].witness[0])
    sig[10] ^= 1
    return env.cb.next_block(txs=[_with_witness(tx, (bytes(sig),))])


# --------------------------------------------------------------------------- the tests


def _snapshot(env: Env, block: Block) -> dict[OutPoint, object]:
    """The coins a block spends or creates, as the UTXO set holds them now."""
    ops = set(spent_outpoints(block))
    ops.update(OutPoint(tx.txid, n) for tx in block.txs for n in range(len(tx.vout)))
    return {op: env.cb.cs.get_coin(op) for op in ops}


def _connect_valid_block_after(env: Env, invalid: Block) -> None:
    """A valid block on the unchanged tip connects, spending a coin the invalid one used."""
    cb = env.cb
    spendable = {op for op in cb.spendable() if op.txid != env.bip30_tx.txid}
    used = [op for op in spent_outpoints(invalid) if op in spendable]
    coin = used[0] if used else env.coin()
    block = cb.next_block(txs=[cb.spend(coin)])
    assert cb.submit(roundtrip(block)) is None
    assert cb.tip.hash == block.hash
    assert cb.cs.get_coin(coin) is None


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_block_is_rejected_with_cores_reason(env: Env, case: Case) -> None:
    cb = env.cb
    tip = cb.tip
    block = case.build(env)
    assert block.header.prev_hash == tip.hash
    wire = roundtrip(block)
    assert wire.hash == block.hash and wire.txs == block.txs
    before = _snapshot(env, block)

    assert cb.submit(wire) == case.reason

    assert cb.tip is tip
    assert cb.cs.coins.best_block() == tip.hash
    assert _snapshot(env, block) == before
    entry = cb.cs.lookup(block.hash)
    if case.index == "absent":
        assert entry is None
    elif case.index == "header-only":
        assert entry is not None and not entry.failed() and not entry.have_data()
    else:
        assert entry is not None and entry.failed()
        assert entry.have_data() == (case.index == "failed-stored")
    again = "duplicate-invalid" if case.index.startswith("failed") else case.reason
    assert cb.submit(roundtrip(block)) == again
    assert cb.tip is tip

    _connect_valid_block_after(env, block)


def test_every_reason_is_exercised() -> None:
    reasons = {c.reason for c in CASES}
    expected = {
        "high-hash", "bad-diffbits", "time-too-old", "time-too-new", "bad-version(0x00000001)",
        "bad-txnmrklroot", "bad-txns-duplicate", "bad-blk-length", "bad-blk-weight",
        "bad-cb-missing", "bad-cb-multiple", "bad-blk-sigops", "bad-txns-vin-empty",
        "bad-txns-vout-empty", "bad-txns-vout-negative", "bad-txns-vout-toolarge",
        "bad-txns-txouttotal-toolarge", "bad-txns-inputs-duplicate", "bad-txns-prevout-null",
        "bad-cb-length", "bad-cb-height", "bad-witness-nonce-size", "bad-witness-merkle-match",
        "unexpected-witness", "bad-txns-nonfinal", "bad-txns-inputs-missingorspent",
        "bad-txns-BIP30", "bad-txns-premature-spend-of-coinbase", "bad-txns-in-belowout",
        "bad-cb-amount", script_failed(EVAL_FALSE),
    }  # fmt: skip
    assert expected <= reasons
    assert len({c.id for c in CASES}) == len(CASES)


# --- valid blocks exactly on each limit


VALID_CASES: list[tuple[str, Callable[[Env], Block]]] = []


def valid(id: str) -> Callable[[Callable[[Env], Block]], None]:
    def register(build: Callable[[Env], Block]) -> None:
        VALID_CASES.append((id, build))

    return register


@valid("time-is-mtp-plus-one")
def _(env: Env) -> Block:
    return env.cb.next_block(time=env.cb.tip.median_time_past() + 1)


@valid("time-is-now-plus-two-hours")
def _(env: Env) -> Block:
    cb = env.cb
    return cb.next_block(time=cb.now() + cb.params.max_future_block_time)


@valid("base-size-exactly-1000000")
def _(env: Env) -> Block:
    block = _big_block(env, 0)
    assert block.weight == MAX_BLOCK_WEIGHT
    return block


@valid("weight-exactly-4000000")
def _(env: Env) -> Block:
    return _heavy_witness_block(env, 0)


@valid("coinbase-scriptsig-100-bytes")
def _(env: Env) -> Block:
    height_push = coinbase_height_script(env.next_height())
    return env.cb.next_block(coinbase_script_sig=height_push + bytes(100 - len(height_push)))


@valid("sigops-cost-exactly-80000")
def _(env: Env) -> Block:
    outs = [TxOut(0, bytes([OP_CHECKSIG]) * (MAX_BLOCK_SIGOPS_COST // 4))]
    return env.cb.next_block(txs=[env.cb.spend(env.coin("p2pkh"), outputs=outs)])


@valid("coinbase-claims-subsidy-plus-fees")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), fee=5_000)
    limit = get_block_subsidy(env.next_height(), env.cb.params) + 5_000
    return env.cb.next_block(txs=[tx], coinbase_value=limit)


@valid("coinbase-spent-at-depth-100")
def _(env: Env) -> Block:
    return env.cb.next_block(txs=[env.cb.spend(env.cb.coinbase_outpoint(env.next_height() - 100))])


@valid("locktime-height-minus-one")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), locktime=env.next_height() - 1, sequence=NONFINAL_SEQUENCE)
    return env.cb.next_block(txs=[tx])


@valid("locktime-mtp-minus-one")
def _(env: Env) -> Block:
    mtp = env.cb.tip.median_time_past()
    tx = env.cb.spend(env.coin(), locktime=mtp - 1, sequence=NONFINAL_SEQUENCE)
    return env.cb.next_block(txs=[tx])


@valid("bip68-height-lock-just-met")
def _(env: Env) -> Block:
    coin = env.coin()
    coin_height = env.cb.cs.get_coin(coin).height  # type: ignore[union-attr]
    tx = env.cb.spend(coin, version=2, sequence=env.next_height() - coin_height)
    return env.cb.next_block(txs=[tx])


@valid("bip68-ignored-for-version-1")
def _(env: Env) -> Block:
    tx = env.cb.spend(env.coin(), version=1, sequence=SEQUENCE_LOCKTIME_TYPE_FLAG | 0xFFFF)
    return env.cb.next_block(txs=[tx])


@valid("chained-p2pkh-p2tr-p2wpkh-spends")
def _(env: Env) -> Block:
    cb = env.cb
    a = cb.spend(env.coin("p2pkh"), to_script=env.key.p2tr)
    b = cb.spend(OutPoint(a.txid, 0), to_script=env.key.p2pkh)
    c = cb.spend(OutPoint(b.txid, 0))
    return cb.next_block(txs=[a, b, c])


@pytest.mark.parametrize("build", [b for _, b in VALID_CASES], ids=[i for i, _ in VALID_CASES])
def test_block_on_the_limit_connects(env: Env, build: Callable[[Env], Block]) -> None:
    cb = env.cb
    block = build(env)
    assert cb.submit(roundtrip(block)) is None
    assert cb.tip.hash == block.hash
    assert cb.cs.coins.best_block() == block.hash


# --- how invalidity is recorded


def test_resubmitted_invalid_block_and_its_children(env: Env) -> None:
    cb = env.cb
    tip = cb.tip
    bad = cb.next_block(coinbase_value=get_block_subsidy(tip.height + 1, cb.params) + 1)
    assert cb.submit(bad) == "bad-cb-amount"
    assert cb.submit(bad) == "duplicate-invalid"
    assert cb.entry(bad).failed()

    child = cb.next_block(bad)
    assert cb.submit(child) == "bad-prevblk"
    assert cb.cs.lookup(child.hash) is None
    # The header alone is refused the same way.
    with pytest.raises(BlockValidationError) as refused:
        cb.cs.accept_block_header(child.header)
    assert refused.value.reason == "bad-prevblk"

    # A block failing the contextual checks is marked too, and so are its children.
    bad_height = cb.next_block(coinbase_script_sig=coinbase_height_script(tip.height + 5) + b"\0")
    assert cb.submit(bad_height) == "bad-cb-height"
    assert cb.submit(cb.next_block(bad_height)) == "bad-prevblk"
    assert cb.tip is tip

    # A sibling of the invalid blocks is fine.
    good = cb.next_block()
    assert cb.submit(good) is None
    assert cb.tip.hash == good.hash


MUTATIONS = ["bad-txnmrklroot", "bad-txns-duplicate", "bad-witness-nonce-size",
             "bad-witness-merkle-match", "unexpected-witness"]  # fmt: skip


def _mutated_pair(env: Env, kind: str) -> tuple[Block, Block]:
    """A valid block and a malleated copy of it with the very same header."""
    cb = env.cb
    spends = [cb.spend(env.coin("p2wpkh"))]
    if kind == "bad-txns-duplicate":
        for _ in range(4):
            spends.append(cb.spend(OutPoint(spends[-1].txid, 0)))
    commitment = kind != "unexpected-witness"
    if not commitment:  # a witness-free block: the mutation adds witness data
        spends = [cb.spend(env.coin("p2pkh"))]
    good = cb.next_block(txs=spends, witness_commitment=commitment)
    txs = list(good.txs)
    if kind == "bad-txnmrklroot":
        txs.pop()
    elif kind == "bad-txns-duplicate":
        txs += txs[-2:]
    elif kind == "bad-witness-nonce-size":
        txs[0] = _with_witness(txs[0], ())
    elif kind == "bad-witness-merkle-match":
        txs[1] = corrupt_signature(txs[1])
    else:
        txs[0] = _with_witness(txs[0], (bytes(32),))
    bad = with_txs(good, txs, update_merkle=False)
    assert bad.hash == good.hash
    return good, bad


@pytest.mark.parametrize("header_first", [False, True], ids=["block-only", "header-first"])
@pytest.mark.parametrize("kind", MUTATIONS)
def test_mutated_block_does_not_taint_its_header(env: Env, kind: str, header_first: bool) -> None:
    cb = env.cb
    tip = cb.tip
    good, bad = _mutated_pair(env, kind)
    if header_first:
        cb.cs.accept_block_header(good.header)
    assert cb.submit(roundtrip(bad)) == kind
    assert cb.tip is tip
    entry = cb.cs.lookup(good.hash)
    assert entry is None or not entry.failed()
    # The genuine block with the same header is still welcome.
    assert cb.submit(roundtrip(good)) is None
    assert cb.tip.hash == good.hash
    assert cb.submit(good) == "duplicate"


def test_block_from_the_future_is_accepted_once_its_time_comes(env: Env) -> None:
    cb = env.cb
    tip = cb.tip
    early = cb.next_block(time=cb.now() + cb.params.max_future_block_time + 60)
    assert cb.submit(early) == "time-too-new"
    assert cb.cs.lookup(early.hash) is None  # not cached as invalid
    cb.advance_clock(60)
    assert cb.submit(early) is None
    assert cb.tip.hash == early.hash
    assert cb.tip.prev is tip


def test_version_boundary(env: Env) -> None:
    cb = env.cb
    assert cb.submit(cb.next_block(version=3)) == "bad-version(0x00000003)"
    four = cb.next_block(version=4)
    assert cb.submit(four) is None
    assert cb.tip.hash == four.hash


def test_chain_still_verifies(env: Env) -> None:
    assert env.cb.cs.verify_chain(depth=50, level=3)


def test_timewarp_rule_when_bip94_is_on(tmp_path: Path) -> None:
    """BIP94 (Core's regtest with -test=bip94): the first block of a difficulty period
    may not be more than 600 seconds older than its parent."""
    params = dataclasses.replace(get_params("regtest"), enforce_bip94=True)
    interval = params.difficulty_adjustment_interval
    with ChainBuilder(tmp_path / "bip94", params) as cb:
        cb.mine(interval - 1)
        parent = cb.tip
        too_early = cb.next_block(time=parent.time - 601)
        assert too_early.header.time > parent.median_time_past()
        assert cb.submit(too_early) == "time-timewarp-attack"
        assert cb.tip is parent and cb.cs.lookup(too_early.hash) is None
        on_limit = cb.next_block(time=parent.time - 600)
        assert cb.submit(on_limit) is None
        assert cb.tip.height == interval
        # Inside a period the rule does not apply.
        assert cb.submit(cb.next_block(time=cb.tip.time - 601)) is None


def test_bip30_checked_first_where_bip34_starts_later(tmp_path: Path) -> None:
    """Where BIP34 is not in force from block 1, a coinbase can repeat an earlier one
    whose output is still unspent, and nothing else fails: BIP30 must be checked before
    the block is connected (pyrite defers it only where BIP34 holds from block 1)."""
    params = dataclasses.replace(get_params("regtest"), bip34_height=1000)
    script_sig = b"\x51\x51"  # the same in both coinbases: no height in it
    with ChainBuilder(tmp_path / "late-bip34", params) as cb:
        first = cb.next_block(coinbase_script_sig=script_sig, witness_commitment=False)
        assert cb.submit(first) is None
        repeat = cb.next_block(coinbase_script_sig=script_sig, witness_commitment=False)
        assert repeat.txs[0].txid == first.txs[0].txid
        tip = cb.tip
        assert cb.submit(repeat) == "bad-txns-BIP30"
        assert cb.tip is tip
        assert cb.cs.get_coin(OutPoint(first.txs[0].txid, 0)) is not None
