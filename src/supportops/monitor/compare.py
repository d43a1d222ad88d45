"""Champion against challenger on feedback-labelled tickets, with an exact McNemar test.

Only tickets that neither version trained on count (a retrained challenger's snapshot holds
earlier feedback labels). The test looks at the discordant pairs: ``b`` tickets the champion
got right and the challenger wrong, ``c`` the other way round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.stats import binomtest

#: Promotion needs the challenger better at this significance level.
ALPHA = 0.05


@dataclass(frozen=True)
class McNemar:
    """Exact (binomial) McNemar test of two paired correctness vectors."""

    b: int
    c: int
    p_value: float

    @property
    def challenger_better(self) -> bool:
        return self.c > self.b

    def significant(self, alpha: float = ALPHA) -> bool:
        return self.challenger_better and self.p_value < alpha

    def as_dict(self) -> dict[str, Any]:
        return {"test": "mcnemar_exact", "champion_only_right": self.b,
                "challenger_only_right": self.c, "p_value": round(self.p_value, 6),
                "alpha": ALPHA, "challenger_better": self.challenger_better,
                "significant": self.significant()}


def mcnemar(champion: npt.ArrayLike, challenger: npt.ArrayLike) -> McNemar:
    """Two-sided exact McNemar test: under H0 each discordant pair goes either way with
    probability 1/2, so ``c`` ~ Binomial(b + c, 1/2)."""
    a = np.asarray(champion, dtype=bool)
    z = np.asarray(challenger, dtype=bool)
    b = int((a & ~z).sum())
    c = int((~a & z).sum())
    p = 1.0 if b + c == 0 else float(binomtest(c, b + c, 0.5).pvalue)
    return McNemar(b, c, min(1.0, p))


def correctness(model: Any, rows: Sequence[dict[str, Any]], truth: Sequence[str]
                ) -> npt.NDArray[np.bool_]:
    """Whether the model's top label is the person's label, per row."""
    if not rows:
        return np.zeros(0, dtype=bool)
    predicted = model.predict(rows)
    return np.asarray([str(p) == t for p, t in zip(predicted, truth, strict=True)], dtype=bool)
