"""The chance level of IV: drawing bad counts per bin from the multivariate hypergeometric law
is the same distribution as shuffling the labels row by row (checked against real shuffles)."""

from __future__ import annotations

import numpy as np

from creditsdk.evaluate import _stats as st


def test_hypergeometric_draws_match_explicit_label_shuffles() -> None:
    rng = np.random.default_rng(0)
    n = 4000
    bins = rng.integers(0, 6, n)
    y = (rng.random(n) < 0.06).astype(np.float64)
    total = np.bincount(bins, minlength=6).astype(np.float64)
    shuffled = []
    for _ in range(1500):
        b = np.bincount(bins, weights=rng.permutation(y), minlength=6)
        shuffled.append(st.woe_iv(b, total - b)[1].sum())
    sb = st.shuffled_bad_counts(total, int(y.sum()), 1500, 0, "f")
    drawn = st.woe_iv(sb, total[None, :] - sb)[1].sum(axis=1)
    assert (sb.sum(axis=1) == y.sum()).all()
    assert (sb <= total).all()
    for q in (0.5, 0.95):
        assert abs(np.quantile(drawn, q) / np.quantile(shuffled, q) - 1) < 0.1


def test_seeded_per_factor() -> None:
    total = np.array([100.0, 200.0, 300.0])
    a = st.shuffled_bad_counts(total, 50, 10, 3, "x")
    assert (a == st.shuffled_bad_counts(total, 50, 10, 3, "x")).all()
    assert not (a == st.shuffled_bad_counts(total, 50, 10, 3, "y")).all()
