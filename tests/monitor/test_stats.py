"""The statistics, each checked against an independent computation."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon
from sklearn.isotonic import IsotonicRegression

from supportops.monitor import stats


def test_k_distribution_pools_values_of_fewer_than_k_subjects() -> None:
    values = ["a", "a", "a", "b", "b", "c", None]
    subjects = ["s1", "s2", "s3", "s1", "s1", None, "s9"]
    assert stats.k_distribution(values, subjects, k=3) == {"a": 3, "(other)": 3}
    assert stats.k_distribution(values, subjects, k=1) == {"a": 3, "b": 2, "c": 1}


def test_divergences_match_scipy_and_the_formula() -> None:
    p, q = {"x": 30, "y": 70}, {"x": 60, "y": 30, "z": 10}
    a = np.array([30, 70, 0]) + stats.EPS
    b = np.array([60, 30, 10]) + stats.EPS
    a, b = a / a.sum(), b / b.sum()
    assert stats.jensen_shannon(p, q) == pytest.approx(jensenshannon(a, b, base=2) ** 2)
    assert stats.psi(p, q) == pytest.approx(float(((b - a) * np.log(b / a)).sum()))
    assert stats.jensen_shannon(p, p) == pytest.approx(0.0, abs=1e-9)


def test_domain_auc_near_half_for_one_distribution_and_high_for_two() -> None:
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(400, 16)).astype(np.float32)
    same = rng.normal(size=(100, 16)).astype(np.float32)
    moved = (rng.normal(size=(100, 16)) + 0.8).astype(np.float32)
    noise = stats.auc_noise(400, 100)
    assert noise == pytest.approx(math.sqrt(501 / (12 * 400 * 100)))
    assert stats.domain_auc(ref, same) < 0.5 + 4 * noise
    assert stats.domain_auc(ref, moved) > 0.95


def test_estimated_accuracy_is_the_mean_isotonic_calibrated_confidence() -> None:
    rng = np.random.default_rng(1)
    conf = rng.uniform(0.3, 1.0, 2000)
    right = rng.uniform(size=2000) < conf ** 2  # overconfident model
    calibration = stats.fit_calibration(conf, right)
    window = rng.uniform(0.3, 1.0, 300)
    iso = IsotonicRegression(y_min=0, y_max=1, out_of_bounds="clip").fit(conf, right)
    assert stats.estimated_accuracy(window, calibration) == pytest.approx(
        float(iso.predict(window).mean()), abs=1e-4)
    assert abs(stats.estimated_accuracy(window, calibration) - float((window ** 2).mean())) < 0.03
    assert stats.estimated_accuracy(window, None) == pytest.approx(float(window.mean()))
