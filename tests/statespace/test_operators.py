"""The compiled drift's storage: round-off of structural zeros is cut per row and column."""
import numpy as np


def test_drift_round_off_cut_is_per_row_and_column():
    """make_drift zeroes MNA round-off relative to an entry's own row and column: a badly scaled cascade
    (entries 1e7 .. 1e33, ngspice's pz2.cir) keeps its diagonal (a global cut zeroed it: eigenvalues 0)."""
    from spucircuit.statespace.operators import make_drift

    F = np.array([[-1e7, 0.0], [7.8e32, -1e9]])
    D = make_drift(F).to_dense()
    assert np.array_equal(D, F)
    G = np.array([[-1.0, 1e-17], [3e-15, -2.0]])  # round-off against both its row and its column
    assert np.array_equal(make_drift(G).to_dense(), np.diag([-1.0, -2.0]))
