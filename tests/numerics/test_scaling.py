"""Issue 17, item 5: diagnostics right for any overall scale of A and b. A x 1e300 used to report
relative_error 0.0 and standard_error 0.0 (squares underflowed); A x 1e-300 relative_error NaN and
an infinite standard error (squares overflowed)."""
import numpy as np
import pytest

import spucircuit as sc
from spucircuit.numerics.scaling import norm2, pow2_scale, relative_error
from spucircuit.numerics.stats import cov_and_se, mean_and_se


@pytest.mark.parametrize("f", [1e-300, 1e-160, 1.0, 3.7, 1e160, 1e300])
def test_norm2_and_relative_error_at_any_scale(f):
    v = np.array([3.0, -4.0, 0.0, 12.0])
    assert norm2(v * f) == pytest.approx(13.0 * f, rel=1e-15)
    assert relative_error(v * f * (1 + 1e-3), v * f) == pytest.approx(1e-3, rel=1e-9)
    assert pow2_scale(v * f) <= 12.0 * f < 2 * pow2_scale(v * f)


def test_in_the_normal_range_the_results_are_numpys_bits():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((400, 3, 5)) * 1e5
    assert norm2(x[0]) == np.linalg.norm(x[0])
    m, se = mean_and_se(x * 2.0 ** -600, min_batch=4)  # rescaled inside: the same bits, times 2^-600
    m0, se0 = mean_and_se(x, min_batch=4)
    assert np.array_equal(m, m0 * 2.0 ** -600) and np.array_equal(se, se0 * 2.0 ** -600)
    c, sc_ = cov_and_se(x * 2.0 ** 300)
    c0, sc0 = cov_and_se(x)
    assert np.array_equal(c, c0 * 2.0 ** 600) and np.array_equal(sc_, sc0 * 2.0 ** 600)
    assert relative_error(np.zeros(3), np.zeros(3)) == 0.0 and relative_error(np.ones(3), np.zeros(3)) == np.inf


@pytest.mark.parametrize("fa, fb", [(1e300, 1.0), (1e-300, 1.0), (1.0, 1e300), (1.0, 1e-300), (1e150, 1e-150)])
def test_solve_and_inv_report_the_same_diagnostics_at_any_scale(fa, fb):
    """Same seed, A and b scaled: x scales by fb / fa, and relative error, relative standard error
    and error bound are those of the unscaled problem (to round-off)."""
    A = sc.random_spd(4, 10, seed=1)
    b = np.array([1.0, -0.5, 2.0, 0.25])
    x0, i0 = sc.solve(A, b, seed=3, chains=4, return_info=True)
    x1, i1 = sc.solve(A * fa, b * fb, seed=3, chains=4, return_info=True)
    k = fb / fa
    ref0, ref1 = np.linalg.solve(A, b), np.linalg.solve(A * fa, b * fb)
    assert relative_error(x1, ref1) == pytest.approx(relative_error(x0, ref0), rel=1e-6)
    assert relative_error(x1, ref1) > 0
    np.testing.assert_allclose(i1.standard_error / k, i0.standard_error, rtol=1e-6)
    assert i1.error_bound == pytest.approx(i0.error_bound, rel=1e-6)
    if fb == 1.0:
        Y0, j0 = sc.inv(A, seed=3, return_info=True)
        Y1, j1 = sc.inv(A * fa, seed=3, return_info=True)
        assert relative_error(Y1, np.linalg.inv(A * fa)) == pytest.approx(relative_error(Y0, np.linalg.inv(A)),
                                                                          rel=1e-6)
        np.testing.assert_allclose(j1.standard_error * fa, j0.standard_error, rtol=1e-6)
        assert j1.error_bound == pytest.approx(j0.error_bound, rel=1e-6)
