"""The verification progress estimate (getblockchaininfo, the UpdateTip log lines), and the
timed log lines of a coins flush."""

from __future__ import annotations

import dataclasses
import logging
import re
from pathlib import Path

import pytest

from pyrite.consensus.params import ChainTxData, get_params
from tests.integration.chainutil import ChainBuilder


def test_progress_of_a_chain_as_it_ages(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    regtest = get_params("regtest")
    data = ChainTxData(time=regtest.genesis.header.time, tx_count=0, tx_rate=0.01)
    params = dataclasses.replace(regtest, chain_tx_data=data)
    with ChainBuilder(tmp_path, params) as b, caplog.at_level(logging.INFO):
        b.mine(5)
        tip = b.tip
        assert tip.chain_tx == 6
        # a recent tip that is the best header reads exactly 1.0, as in Core
        assert abs(b.now() - tip.time) <= 7200
        assert b.cs.verification_progress(tip) == 1.0
        logged = re.findall(r"UpdateTip: .* height=5 .* progress=([0-9.]+) ", caplog.text)
        assert logged == ["1.000000"]
        # ten days on: the chain's 6 transactions against 8,640 more expected meanwhile
        b.advance_clock(10 * 86400)
        want = 6 / (6 + (b.now() - tip.time) * 0.01)
        assert b.cs.verification_progress(tip) == pytest.approx(want)
        assert 0 < want < 0.001
        # an ancestor of the tip, recent or not, is behind it
        parent = tip.prev
        assert parent is not None
        assert b.cs.verification_progress(parent) < b.cs.verification_progress(tip)


def test_a_coins_flush_is_timed_in_the_bench_category(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Core's -debug=bench lines around writing the coins cache, with the coin count."""
    with ChainBuilder(tmp_path) as b:
        b.mine(3)
        coins = len(b.cs.coins)
        with caplog.at_level(logging.DEBUG, logger="pyrite.bench"):
            b.cs.flush()
    started, completed = (r.getMessage() for r in caplog.records if r.name == "pyrite.bench")
    assert re.fullmatch(
        rf"FlushStateToDisk: write coins cache to disk \({coins} coins, [0-9.]+kB\) started",
        started,
    )
    assert re.fullmatch(
        rf"FlushStateToDisk: write coins cache to disk \({coins} coins, [0-9.]+kB\) completed "
        r"\([0-9.]+ms\)",
        completed,
    )
