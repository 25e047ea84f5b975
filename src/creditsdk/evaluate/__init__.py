"""Judge a data source the way a risk team does: hit rates, cost per useful hit, per-factor IV /
KS / AUC against a chance level, PSI, overlap with the scores you already have; one HTML report.

>>> from creditsdk.evaluate import evaluate
>>> ev = evaluate(["runs/ty", "runs/fe"], target="bad", time_col="apply_month",
...               baselines=["internal_score"], prices="prices.toml")   # doctest: +SKIP
>>> ev.factors.head(); ev.to_html("report.html")                          # doctest: +SKIP

Needs the ``evaluate`` extra: ``pip install 'creditsdk[evaluate]'``. See docs/evaluate.md.
"""

from ._api import Evaluation, evaluate, evaluate_frame
from ._spec import Bucket, FactorSpec

__all__ = ["Bucket", "Evaluation", "FactorSpec", "evaluate", "evaluate_frame"]
