"""solve / inv on a scipy.sparse matrix (issue 15): checked, mapped, compiled and run sparsely on the
trapezoidal scheme (chosen automatically), within the reported error bound, and equal in
distribution to the dense path."""
import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

import spucircuit
from spucircuit.circuit.integrator_array import integrator_array
from spucircuit.errors import MatrixError
from spucircuit.linalg.solve import auto_scheme
from spucircuit.statespace.mna import compile_netlist


def poisson2d(m):
    T = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], (m, m))
    eye = sp.identity(m)
    return (sp.kron(T, eye) + sp.kron(eye, T)).tocsr()


def test_auto_scheme_rule():
    assert auto_scheme(poisson2d(4), None) == "trapezoidal"
    assert auto_scheme(np.eye(3), None) == "exponential"
    assert auto_scheme(np.eye(3), "auto") == "exponential"
    assert auto_scheme(poisson2d(4), "exact") == "exponential"


def test_sparse_compile_equals_dense_compile():
    """The O(nnz) compile gives the dense compile's drift, inputs, diffusion and read-out to rounding,
    with G G^T = Q from one column per noise source / virtual ground, and no dense n x n array."""
    A = poisson2d(5)
    b = np.linspace(-1, 1, 25)
    mc = integrator_array(A, b, noise_psd=1e-22)
    mcd = integrator_array(A.toarray(), b, noise_psd=1e-22)
    assert sp.issparse(mc.A) and np.array_equal(mc.A.toarray(), mcd.A)
    d = compile_netlist(mcd.netlist, 300.0)
    s = compile_netlist(mc.netlist, 300.0, sparse=True)
    assert s.drift.kind == "sparse" and sp.issparse(s.input_matrix) and sp.issparse(s.diffusion)
    assert np.max(np.abs(s.drift.to_dense() - d.drift.to_dense())) <= 1e-15 * np.max(np.abs(d.drift.to_dense()))
    assert np.max(np.abs(s.input_matrix.toarray() - d.input_matrix)) <= 1e-15 * np.max(np.abs(d.input_matrix))
    G = s.diffusion_factor
    Qd = d.diffusion
    assert np.max(np.abs((G @ G.T).toarray() - Qd)) <= 1e-13 * np.max(np.abs(Qd))
    Y, Z = s.node_voltage_map(mc.output_nodes)
    Yd, Zd = d.node_voltage_map(mcd.output_nodes)
    assert sp.issparse(Y) and np.array_equal(Y.toarray(), Yd) and np.array_equal(Z.toarray(), Zd)


def test_poisson_16x16_sparse_within_bound_and_equal_in_distribution_to_dense():
    """2-D Poisson 16 x 16 (n = 256) from scipy.sparse: the automatic scheme is trapezoidal, the
    error is within the reported bound, each entry within 4.5 SE of x* (the SE is the noise
    term), and the dense path's answer (exponential scheme) agrees with it within their combined
    standard errors plus both transient bounds."""
    A = poisson2d(16)
    rng = np.random.default_rng(5)
    b = rng.standard_normal(A.shape[0])
    xstar = spla.spsolve(A.tocsc(), b)
    x, info = spucircuit.solve(A, b, seed=3, chains=4, return_info=True)
    assert info.scheme == "trapezoidal"
    err = np.linalg.norm(x - xstar)
    assert err <= info.error_budget["absolute"], (err, info.error_budget)
    assert info.error_bound < 1e-3
    se = info.standard_error
    assert np.max(np.abs(x - xstar) / (se + info.transient_bias_bound)) < 4.5
    xd, infod = spucircuit.solve(A.toarray(), b, seed=4, chains=4, return_info=True)
    assert infod.scheme == "exponential"
    allow = np.sqrt(se**2 + infod.standard_error**2) + info.transient_bias_bound + infod.transient_bias_bound
    z = np.abs(x - xd) / allow
    assert np.max(z) < 4.5, np.max(z)
    # the test has power: the noise is well above rounding and the answers are not identical
    assert np.max(np.abs(x - xd)) > 0 and np.median(se) > 1e-12 * np.max(np.abs(xstar))


def test_sparse_dense_input_same_circuit_bits():
    """The same matrix given densely with scheme='trapezoidal' and probe=True (a sparse A is probed by
    default) runs the same sparse circuit for the same time: same bits."""
    A = poisson2d(6)
    b = np.ones(36)
    x1 = spucircuit.solve(A, b, seed=9)
    x2 = spucircuit.solve(A.toarray(), b, seed=9, scheme="trapezoidal", probe=True)
    assert np.array_equal(x1, x2)


def test_inv_sparse_within_bound():
    A = poisson2d(4)
    Ainv, info = spucircuit.inv(A, seed=2, return_info=True)
    assert info.scheme == "trapezoidal"
    ref = np.linalg.inv(A.toarray())
    rel = np.linalg.norm(Ainv - ref) / np.linalg.norm(ref)
    assert rel <= info.error_bound, (rel, info.error_bound)


@pytest.mark.parametrize("bad,msg", [
    (sp.csr_matrix(np.array([[2.0, 1.0], [0.0, 2.0]])), "A is not symmetric"),
    (sp.csr_matrix((2, 3)), "A has wrong shape (2, 3)"),
    (sp.csr_matrix(np.diag([1.0, np.inf])), "A contains NaN or inf (first at A[1,1] = inf)"),
    (sp.csr_matrix(np.array([[1.0, 2.0], [2.0, 1.0]])), "A is not positive definite: its LDL^T factorisation has a pivot"),
])
def test_sparse_bad_matrices(bad, msg):
    with pytest.raises(MatrixError) as exc:
        spucircuit.solve(bad, np.ones(bad.shape[0]))
    assert msg in str(exc.value) and "\n" not in str(exc.value)
