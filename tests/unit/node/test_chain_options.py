"""-assumevalid and -minimumchainwork as Core reads them (uint256::FromUserHex)."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from pyrite.consensus.params import get_params
from pyrite.node.config import Config
from pyrite.node.main import StartupError, _assume_valid, _chain_params, _user_hex

MAIN_DEFAULT = "00000000000000000000748969ec33043c0e52a763c6dd5193861f559f2c72e3"


def _config(datadir: Path, *args: str) -> Config:
    return Config.load([f"-datadir={datadir}", *args])


@pytest.mark.parametrize(
    ("value", "number"),
    [("", 0), ("0", 0), ("0x", 0), ("0x10", 16), ("1A", 26), ("f" * 64, (1 << 256) - 1)],
)
def test_user_hex_reads_up_to_64_digits_after_an_optional_0x(value: str, number: int) -> None:
    assert _user_hex(value) == number


@pytest.mark.parametrize("value", ["0X10", "zz", " 1", "1 ", "-1", "0x0x1", "f" * 65])
def test_user_hex_refuses_anything_else(value: str) -> None:
    assert _user_hex(value) is None


def test_assumevalid_defaults_to_the_networks_block(tmp_path: Path) -> None:
    main = get_params("main")
    assert _assume_valid(_config(tmp_path), main) == bytes.fromhex(MAIN_DEFAULT)[::-1]
    assert _assume_valid(_config(tmp_path, "-regtest"), get_params("regtest")) is None


@pytest.mark.parametrize(
    "arg", ["-assumevalid=0", "-assumevalid=", "-noassumevalid", "-assumevalid=0x"]
)
def test_assumevalid_zero_verifies_every_script(
    tmp_path: Path, arg: str, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        assert _assume_valid(_config(tmp_path, arg), get_params("main")) is None
    assert "Validating signatures for all blocks." in caplog.messages


def test_assumevalid_reads_a_hash_as_displayed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        got = _assume_valid(
            _config(tmp_path, "-regtest", "-assumevalid=0xabc"), get_params("regtest")
        )
    assert got == bytes.fromhex("abc".rjust(64, "0"))[::-1]
    assert f"Assuming ancestors of block {'abc'.rjust(64, '0')} have valid signatures." in (
        caplog.messages
    )


@pytest.mark.parametrize("value", ["xyz", "0X10", "a" * 65])
def test_a_bad_assumevalid_stops_startup_with_cores_message(tmp_path: Path, value: str) -> None:
    with pytest.raises(StartupError) as e:
        _assume_valid(_config(tmp_path, f"-assumevalid={value}"), get_params("main"))
    assert str(e.value) == (
        f"Invalid assumevalid block hash specified ({value}), must be up to 64 hex digits "
        "(or 0 to disable)"
    )


def test_minimumchainwork_replaces_the_networks(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert _chain_params(_config(tmp_path, "-regtest")) is get_params("regtest")
    with caplog.at_level(logging.INFO):
        params = _chain_params(_config(tmp_path, "-regtest", "-minimumchainwork=0x1000"))
    assert params.min_chain_work == 0x1000
    assert params.genesis == get_params("regtest").genesis
    assert f"Setting nMinimumChainWork={0x1000:064x}" in caplog.messages
    caplog.clear()
    main_work = get_params("main").min_chain_work
    with caplog.at_level(logging.INFO):
        assert _chain_params(_config(tmp_path, "-minimumchainwork=1")).min_chain_work == 1
    assert f"Warning: nMinimumChainWork set below default value of {main_work:064x}" in (
        caplog.messages
    )


def test_a_bad_minimumchainwork_stops_startup_with_cores_message(tmp_path: Path) -> None:
    with pytest.raises(StartupError) as e:
        _chain_params(_config(tmp_path, "-regtest", "-minimumchainwork=0xg"))
    assert str(e.value) == "Invalid minimum work specified (0xg), must be up to 64 hex digits"
