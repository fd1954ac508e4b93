"""Opcode values and names (Core's script/script.h)."""

from __future__ import annotations

OP_0 = 0x00
OP_FALSE = OP_0
OP_PUSHDATA1 = 0x4C
OP_PUSHDATA2 = 0x4D
OP_PUSHDATA4 = 0x4E
OP_1NEGATE = 0x4F
OP_RESERVED = 0x50
OP_1 = 0x51
OP_TRUE = OP_1
OP_16 = 0x60
OP_NOP = 0x61
OP_VER = 0x62
OP_IF = 0x63
OP_NOTIF = 0x64
OP_VERIF = 0x65
OP_VERNOTIF = 0x66
OP_ELSE = 0x67
OP_ENDIF = 0x68
OP_VERIFY = 0x69
OP_RETURN = 0x6A
OP_TOALTSTACK = 0x6B
OP_FROMALTSTACK = 0x6C
OP_2DROP = 0x6D
OP_2DUP = 0x6E
OP_3DUP = 0x6F
OP_2OVER = 0x70
OP_2ROT = 0x71
OP_2SWAP = 0x72
OP_IFDUP = 0x73
OP_DEPTH = 0x74
OP_DROP = 0x75
OP_DUP = 0x76
OP_NIP = 0x77
OP_OVER = 0x78
OP_PICK = 0x79
OP_ROLL = 0x7A
OP_ROT = 0x7B
OP_SWAP = 0x7C
OP_TUCK = 0x7D
OP_CAT = 0x7E
OP_SUBSTR = 0x7F
OP_LEFT = 0x80
OP_RIGHT = 0x81
OP_SIZE = 0x82
OP_INVERT = 0x83
OP_AND = 0x84
OP_OR = 0x85
OP_XOR = 0x86
OP_EQUAL = 0x87
OP_EQUALVERIFY = 0x88
OP_RESERVED1 = 0x89
OP_RESERVED2 = 0x8A
OP_1ADD = 0x8B
OP_1SUB = 0x8C
OP_2MUL = 0x8D
OP_2DIV = 0x8E
OP_NEGATE = 0x8F
OP_ABS = 0x90
OP_NOT = 0x91
OP_0NOTEQUAL = 0x92
OP_ADD = 0x93
OP_SUB = 0x94
OP_MUL = 0x95
OP_DIV = 0x96
OP_MOD = 0x97
OP_LSHIFT = 0x98
OP_RSHIFT = 0x99
OP_BOOLAND = 0x9A
OP_BOOLOR = 0x9B
OP_NUMEQUAL = 0x9C
OP_NUMEQUALVERIFY = 0x9D
OP_NUMNOTEQUAL = 0x9E
OP_LESSTHAN = 0x9F
OP_GREATERTHAN = 0xA0
OP_LESSTHANOREQUAL = 0xA1
OP_GREATERTHANOREQUAL = 0xA2
OP_MIN = 0xA3
OP_MAX = 0xA4
OP_WITHIN = 0xA5
OP_RIPEMD160 = 0xA6
OP_SHA1 = 0xA7
OP_SHA256 = 0xA8
OP_HASH160 = 0xA9
OP_HASH256 = 0xAA
OP_CODESEPARATOR = 0xAB
OP_CHECKSIG = 0xAC
OP_CHECKSIGVERIFY = 0xAD
OP_CHECKMULTISIG = 0xAE
OP_CHECKMULTISIGVERIFY = 0xAF
OP_NOP1 = 0xB0
OP_CHECKLOCKTIMEVERIFY = 0xB1
OP_NOP2 = OP_CHECKLOCKTIMEVERIFY
OP_CHECKSEQUENCEVERIFY = 0xB2
OP_NOP3 = OP_CHECKSEQUENCEVERIFY
OP_NOP4 = 0xB3
OP_NOP5 = 0xB4
OP_NOP6 = 0xB5
OP_NOP7 = 0xB6
OP_NOP8 = 0xB7
OP_NOP9 = 0xB8
OP_NOP10 = 0xB9
OP_CHECKSIGADD = 0xBA
OP_INVALIDOPCODE = 0xFF
MAX_OPCODE = OP_CHECKSIGADD

DISABLED_OPCODES = frozenset(
    (
        OP_CAT, OP_SUBSTR, OP_LEFT, OP_RIGHT, OP_INVERT, OP_AND, OP_OR, OP_XOR,
        OP_2MUL, OP_2DIV, OP_MUL, OP_DIV, OP_MOD, OP_LSHIFT, OP_RSHIFT,
    )
)  # fmt: skip


def is_op_success(op: int) -> bool:
    """BIP342 OP_SUCCESSx opcodes."""
    return (
        op == 80
        or op == 98
        or 126 <= op <= 129
        or 131 <= op <= 134
        or 137 <= op <= 138
        or 141 <= op <= 142
        or 149 <= op <= 153
        or 187 <= op <= 254
    )


OP_SUCCESS = frozenset(op for op in range(256) if is_op_success(op))

_NAMES: dict[int, str] = {}
for _name, _val in list(globals().items()):
    if _name.startswith("OP_") and isinstance(_val, int) and _name not in (
        "OP_FALSE", "OP_TRUE", "OP_NOP2", "OP_NOP3",
    ):  # fmt: skip
        _NAMES.setdefault(_val, _name)
for _n in range(2, 16):
    _NAMES[OP_1 + _n - 1] = f"OP_{_n}"


def op_name(op: int) -> str:
    """Core's GetOpName: 'OP_DUP', '0', '1'..'16', '-1', 'OP_UNKNOWN'."""
    if op == OP_0:
        return "0"
    if op == OP_1NEGATE:
        return "-1"
    if OP_1 <= op <= OP_16:
        return str(op - OP_1 + 1)
    return _NAMES.get(op, "OP_UNKNOWN")


def _build_name_map() -> dict[str, int]:
    out: dict[str, int] = {}
    for op in range(MAX_OPCODE + 1):
        if op < OP_NOP and op != OP_RESERVED:
            continue
        name = op_name(op)
        if name == "OP_UNKNOWN":
            continue
        out[name] = op
        if name.startswith("OP_"):
            out[name[3:]] = op
    return out


#: Names accepted by Core's ParseScript (OP_RESERVED and everything from OP_NOP up).
OPCODE_BY_NAME = _build_name_map()
