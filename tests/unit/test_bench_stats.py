"""The statistics the benchmarks print (``bench.import_chain``)."""

from __future__ import annotations

import math

from bench.import_chain import median_interval


def test_median_interval_from_order_statistics() -> None:
    assert median_interval([1.0, 2.0, 3.0, 4.0, 5.0]) is None  # 93.75% at best
    lo, hi, conf = median_interval([1.04, 0.99, 1.02, 1.0, 1.03, 1.03, 1.02]) or (0, 0, 0)
    assert (lo, hi) == (0.99, 1.04) and math.isclose(conf, 1 - 2 / 2**7)
    lo, hi, conf = median_interval([float(x) for x in range(10, 0, -1)]) or (0, 0, 0)
    assert (lo, hi) == (2.0, 9.0) and math.isclose(conf, 1 - 2 * 11 / 2**10)
    assert median_interval([1.0] * 6, level=0.9) == (1.0, 1.0, 1 - 2 / 2**6)
