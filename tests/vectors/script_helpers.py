"""Builders shared by the script vector tests (Core's script_tests/transaction_tests setup)."""

from __future__ import annotations

from decimal import Decimal

from pyrite.crypto import secp
from pyrite.primitives.tx import NULL_OUTPOINT, OutPoint, Tx, TxIn, TxOut
from pyrite.script.asm import parse_asm
from pyrite.script.flags import ScriptFlags as F
from pyrite.script.interpreter import tapleaf_hash, taptweak_hash

ONE_KEY_XONLY = secp.xonly_from_secret((1).to_bytes(32, "big"))


def crediting_tx(script_pubkey: bytes, amount: int) -> Tx:
    return Tx(
        1, (TxIn(NULL_OUTPOINT, b"\x00\x00", 0xFFFFFFFF),), (TxOut(amount, script_pubkey),), 0
    )


def spending_tx(credit: Tx, script_sig: bytes, witness: tuple[bytes, ...], amount: int) -> Tx:
    return Tx(
        1,
        (TxIn(OutPoint(credit.txid, 0), script_sig, 0xFFFFFFFF, witness),),
        (TxOut(amount, b""),),
        0,
    )


def btc_to_sat(v: float | str | Decimal) -> int:
    return int((Decimal(str(v)) * 100_000_000).to_integral_value())


def build_script_test(row: list[object]) -> tuple[bytes, bytes, tuple[bytes, ...], int, int, str]:
    """Decode one script_tests.json row into (scriptSig, scriptPubKey, witness, amount, flags,
    expected). Taproot rows (#SCRIPT#, #CONTROLBLOCK#, #TAPROOTOUTPUT#) get a one-leaf tree
    with internal key G, as Core's test does."""
    pos = 0
    witness: list[bytes] = []
    amount = 0
    tap_script: bytes | None = None
    if isinstance(row[0], list):
        items = row[0]
        amount = btc_to_sat(items[-1])
        for item in items[:-1]:
            assert isinstance(item, str)
            if item.startswith("#SCRIPT#"):
                tap_script = parse_asm(item[len("#SCRIPT#") :])
                witness.append(tap_script)
            elif item == "#CONTROLBLOCK#":
                witness.append(b"#CONTROLBLOCK#")
            else:
                witness.append(bytes.fromhex(item))
        pos = 1
    sig_asm, spk_asm, flag_text, expected = (str(x) for x in row[pos : pos + 4])
    output_key = b""
    if tap_script is not None:
        leaf = tapleaf_hash(0xC0, tap_script)
        tweaked = secp.xonly_tweak_add(ONE_KEY_XONLY, taptweak_hash(ONE_KEY_XONLY, leaf))
        assert tweaked is not None
        output_key, parity = tweaked
        control = bytes((0xC0 | parity,)) + ONE_KEY_XONLY
        witness = [control if w == b"#CONTROLBLOCK#" else w for w in witness]
    if "#TAPROOTOUTPUT#" in spk_asm:
        spk_asm = spk_asm.replace("#TAPROOTOUTPUT#", "0x" + output_key.hex())
    flags = parse_flag_list(flag_text)
    if flags & F.CLEANSTACK:
        flags |= F.P2SH | F.WITNESS
    return parse_asm(sig_asm), parse_asm(spk_asm), tuple(witness), amount, flags, expected


def parse_flag_list(text: str) -> int:
    from pyrite.script.flags import parse_flags

    return int(parse_flags(text))


def trim_flags(flags: int) -> int:
    """Core's TrimFlags: drop flags that cannot stand without their prerequisites."""
    if not flags & F.P2SH:
        flags &= ~F.WITNESS
    if not flags & F.WITNESS:
        flags &= ~F.CLEANSTACK
    return flags


def fill_flags(flags: int) -> int:
    """Core's FillFlags: add the prerequisites of CLEANSTACK and WITNESS."""
    if flags & F.CLEANSTACK:
        flags |= F.WITNESS
    if flags & F.WITNESS:
        flags |= F.P2SH
    return flags
