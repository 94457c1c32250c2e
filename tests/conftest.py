import os

import numpy as np
import pytest
from hypothesis import settings

# CI: fuzzing is derandomised (same examples every run) and has no per-example deadline, so a
# loaded machine cannot make it flaky; locally it explores new examples each run.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")



@pytest.fixture(scope="module")
def one_blas_thread():
    """Small matrices: one BLAS thread is faster and immune to oversubscription on a shared machine."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        yield
        return
    with threadpool_limits(1):
        yield


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
