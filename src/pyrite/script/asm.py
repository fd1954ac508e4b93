"""Core's test-script notation (ParseScript in core_io.cpp): used by vectors and tools."""

from __future__ import annotations

import re

from pyrite.script.opcodes import OPCODE_BY_NAME
from pyrite.script.script import push_data, push_int

_HEX = re.compile(r"^[0-9a-fA-F]*$")


def parse_asm(text: str) -> bytes:
    """Assemble Core's script notation: numbers, 0x raw hex, 'strings' and opcode names."""
    out = bytearray()
    for word in re.split(r"[ \t\n]+", text):
        if not word:
            continue
        body = word[1:] if word.startswith("-") else word
        if body.isdigit() and body.isascii():
            n = int(word)
            if n > 0xFFFFFFFF or n < -0xFFFFFFFF:
                raise ValueError(f"number out of range in script: {word}")
            out += push_int(n)
        elif word.startswith("0x") and len(word) > 2 and _HEX.match(word[2:]):
            if len(word) % 2:
                raise ValueError(f"odd-length hex in script: {word}")
            out += bytes.fromhex(word[2:])
        elif len(word) >= 2 and word[0] == "'" and word[-1] == "'":
            out += push_data(word[1:-1].encode())
        elif word in OPCODE_BY_NAME:
            out.append(OPCODE_BY_NAME[word])
        else:
            raise ValueError(f"script parse error: {word!r}")
    return bytes(out)
