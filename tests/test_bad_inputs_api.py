"""Bad input to the public API (issue 17): every case raises the package's own error (a subclass
of spucircuit.errors.SPUError or tngd.errors.TNGDError) whose message names the bad value, never
a foreign ValueError / TypeError / KeyError / ZeroDivisionError from numpy or the standard library,
and never a silent result. The command-line tables are in tests/cli/test_bad_inputs*.py."""
import functools

import numpy as np
import pytest

import spucircuit as sc
import tngd
from spucircuit.circuit.netlist import Netlist
from spucircuit.errors import (
    CostError,
    MatrixError,
    NetlistError,
    ParseError,
    RealizabilityError,
    SpiceError,
    SPUError,
    StepError,
    StudyError,
)
from spucircuit.imperfections import models as M
from spucircuit.imperfections.base import chain
from spucircuit.imperfections.instance import Device
from spucircuit.imperfections.profiles import converter_profile, opamp_profile
from spucircuit.io.spice import read_spice, write_spice
from spucircuit.linalg.calibration import identify
from spucircuit.linalg.solve import device_inv, device_solve
from spucircuit.statespace.mna import compile_netlist
from spucircuit.studies import cost as C
from spucircuit.studies.knobs import convert, parse_sweep
from spucircuit.studies.sweep import run_study
from tests.helpers import rc_netlist
from tngd.errors import ConfigError, DataError, TNGDError

A = sc.random_spd(4, 10, seed=1)
AC = np.array([[2.0, -0.5], [-0.5, 2.0]])  # realisable by the capacitive array
b = np.ones(4)
mc = sc.integrator_array(A, b)
nl = rc_netlist()


@functools.lru_cache(maxsize=1)
def digits():
    return tngd.load_digits()


def rc2():
    n = Netlist("t")
    n.add_resistor("R1", "a", "0", 1)
    n.add_resistor("R1", "a", "0", 1)


def floating():
    n = Netlist("t")
    n.add_resistor("R1", "a", "0", 1)
    n.add_capacitor("C1", "b", "c", 1e-9)
    n.validate()


# (name, call, the error class it raises, regex its message matches). Files: text.txt, obj.npz
# (a pickle), empty, fl.npz, one.npz and a folder adir in the working folder (fixture in_files).
API_CASES = [
    ('solve A None', lambda: sc.solve(A, None), MatrixError, 'b has wrong shape \\(\\): expected \\(4,\\) to match the matrix'),
    ('solve A list-str', lambda: sc.solve([["a"]], [1]), MatrixError, 'A is not a numeric array: could not convert string to'),
    ('solve time=-1', lambda: sc.solve(A, b, time=-1), ParseError, 'time must be finite and > 0, got \\-1'),
    ("solve time='x'", lambda: sc.solve(A, b, time="x"), ParseError, "cannot parse time 'x': use e\\.g\\. '50tau', '10us', '2e\\-5'"),
    ('solve time=[1]', lambda: sc.solve(A, b, time=[1]), ParseError, "cannot parse time \\[1\\]: use e\\.g\\. '50tau', '10us', '2e\\-5'"),
    ('solve chains=0', lambda: sc.solve(A, b, chains=0), StepError, 'chains must be an integer >= 1, got 0'),
    ('solve chains=True', lambda: sc.solve(A, b, chains=True), StepError, 'chains must be an integer >= 1, got True'),
    ("solve chains='2'", lambda: sc.solve(A, b, chains="2"), StepError, "chains must be an integer >= 1, got '2'"),
    ('solve seed=-1', lambda: sc.solve(A, b, seed=-1), SPUError, 'seed must be None or an integer >= 0, got \\-1'),
    ("solve seed='x'", lambda: sc.solve(A, b, seed="x"), SPUError, "seed must be None or an integer >= 0, got 'x'"),
    ('solve seed=1.5', lambda: sc.solve(A, b, seed=1.5), SPUError, 'seed must be None or an integer >= 0, got 1\\.5'),
    ('solve scheme=x', lambda: sc.solve(A, b, scheme="rk4"), StepError, "unknown scheme 'rk4': use 'exponential' \\(alias 'exact'\\), 'euler' or"),
    ('solve scheme=3', lambda: sc.solve(A, b, scheme=3), StepError, "unknown scheme 3: use 'exponential' \\(alias 'exact'\\), 'euler' or"),
    ("solve dt='x'", lambda: sc.solve(A, b, dt="x"), StepError, "time step must be a number of seconds, got 'x'"),
    ('solve temp=-1', lambda: sc.solve(A, b, temperature_k=-1), NetlistError, 'temperature must be finite and >= 0 K, got \\-1\\.0'),
    ("solve temp='x'", lambda: sc.solve(A, b, temperature_k="x"), NetlistError, "temperature must be a number of kelvin, got 'x'"),
    ('solve temp=None', lambda: sc.solve(A, b, temperature_k=None), NetlistError, 'temperature must be a number of kelvin, got None'),
    ('solve scale=x', lambda: sc.solve(A, b, scale="x"), ParseError, "scale must be one of \\('autorange', 'bound', 'oracle'\\), got"),
    ('solve kappa=None', lambda: sc.solve(A, b, kappa_max=None), MatrixError, 'kappa_max must be a number >= 1, got None'),
    ('solve x0 bad', lambda: sc.solve(A, b, x0=np.ones(3)), MatrixError, 'x0 has wrong shape \\(3,\\): expected \\(4,\\) to match the matrix'),
    ('solve x0 nan', lambda: sc.solve(A, b, x0=np.full(4, np.nan)), MatrixError, 'x0 contains NaN or inf \\(first at x0\\[0\\] = nan\\)'),
    ('solve burn_in=-1', lambda: sc.solve(A, b, burn_in=-1), ParseError, 'time must be finite and > 0, got \\-1'),
    ("solve r_min='x'", lambda: sc.solve(A, b, r_min="x"), RealizabilityError, "r_min must be a number, got 'x'"),
    ('solve r_min=None', lambda: sc.solve(A, b, r_min=None), RealizabilityError, 'r_min must be a number, got None'),
    ("solve progress='x'", lambda: sc.solve(A, b, progress="x"), SPUError, 'progress must be True, False or a progress meter'),
    ('inv noise_psd=-1', lambda: sc.inv(A, noise_psd=-1), RealizabilityError, 'noise_psd must be finite and >= 0 A\\^2/Hz, got \\-1\\.0'),
    ("inv noise_psd='x'", lambda: sc.inv(A, noise_psd="x"), RealizabilityError, "noise_psd must be a number, got 'x'"),
    ('inv chains=0', lambda: sc.inv(A, chains=0), StepError, 'chains must be an integer >= 1, got 0'),
    ('inv time=0', lambda: sc.inv(A, time=0), ParseError, 'time must be finite and > 0, got 0'),
    ('inv A 1x1 str', lambda: sc.inv("abc"), MatrixError, 'A is not a numeric array: could not convert string to'),
    ('inv A None', lambda: sc.inv(None), MatrixError, 'A has wrong shape \\(\\): expected a non\\-empty square \\(n, n\\)'),
    ('inv A dict', lambda: sc.inv({"a": 1}), MatrixError, 'A is not a numeric array: float\\(\\) argument must be a string'),
    ('inv A ragged', lambda: sc.inv([[1, 2], [3]]), MatrixError, 'A is not a numeric array: setting an array element with a'),
    ('random_spd n=0', lambda: sc.random_spd(0), MatrixError, 'n must be >= 1, got 0'),
    ('random_spd n=-1', lambda: sc.random_spd(-1), MatrixError, 'n must be >= 1, got \\-1'),
    ('random_spd n=2.5', lambda: sc.random_spd(2.5), MatrixError, 'n must be an integer, got 2\\.5'),
    ("random_spd n='x'", lambda: sc.random_spd("x"), MatrixError, "n must be an integer, got 'x'"),
    ('random_spd cond=0.5', lambda: sc.random_spd(4, cond=0.5), MatrixError, 'condition number must be finite and >= 1, got 0\\.5'),
    ('random_spd cond=nan', lambda: sc.random_spd(4, cond=np.nan), MatrixError, 'condition number must be finite and >= 1, got nan'),
    ("random_spd cond='x'", lambda: sc.random_spd(4, cond="x"), MatrixError, "condition number must be a number, got 'x'"),
    ('random_spd seed=-1', lambda: sc.random_spd(4, seed=-1), MatrixError, 'seed must be None or an integer >= 0, got \\-1'),
    ('random_spd cond=1e308', lambda: sc.random_spd(4, cond=1e308), MatrixError, 'condition number 1e\\+308 is above 1e\\+15: such a matrix is'),
    ('random_spd n=1e6', lambda: sc.random_spd(10**6), MatrixError, 'n = 1000000 is above 8192: a dense random n x n matrix and'),
    ('check_spd 1d', lambda: sc.check_spd(np.ones(3)), MatrixError, 'A has wrong shape \\(3,\\): expected a non\\-empty square \\(n, n\\)'),
    ('check_spd None', lambda: sc.check_spd(None), MatrixError, 'A has wrong shape \\(\\): expected a non\\-empty square \\(n, n\\)'),
    ('integrator_array b wrong', lambda: sc.integrator_array(A, np.ones(3)), MatrixError, 'b has wrong shape \\(3,\\): expected \\(4,\\) to match the matrix'),
    ('integrator_array scale=-1', lambda: sc.integrator_array(A, b, scale=-1.0), RealizabilityError, 'v_unit must be finite and > 0 V, got \\-1\\.0'),
    ('integrator_array scale=x', lambda: sc.integrator_array(A, b, scale="x"), RealizabilityError, "scale must be one of \\('bound', 'oracle'\\) or v_unit in V,"),
    ('integrator_array r_buffer=0', lambda: sc.integrator_array(A, b, r_buffer=0), RealizabilityError, 'r_buffer = 0\\.0 Ohm is outside \\[1000\\.0, 1000000\\.0\\] Ohm'),
    ('integrator_array opamp_gain=-1', lambda: sc.integrator_array(A, b, opamp_gain=-1), NetlistError, "op\\-amp 'U0' has unrealizable value \\-1\\.0 V/V: open\\-loop gain"),
    ('integrator_array opamp_gain=nan', lambda: sc.integrator_array(A, b, opamp_gain=np.nan), NetlistError, "op\\-amp 'U0' has unrealizable value nan V/V: open\\-loop gain"),
    ("integrator_array opamp_gain='x'", lambda: sc.integrator_array(A, b, opamp_gain="x"), RealizabilityError, "opamp_gain must be a number, got 'x'"),
    ("integrator_array noise_psd='x'", lambda: sc.integrator_array(A, b, noise_psd="x"), RealizabilityError, "noise_psd must be a number, got 'x'"),
    ('integrator_array x0 wrong', lambda: sc.integrator_array(A, b, x0=np.ones(2)), MatrixError, 'x0 has wrong shape \\(2,\\): expected \\(4,\\) to match the matrix'),
    ('integrator_array c=None', lambda: sc.integrator_array(A, b, c=None), RealizabilityError, 'c must be a number, got None'),
    ("integrator_array c='x'", lambda: sc.integrator_array(A, b, c="x"), RealizabilityError, "c must be a number, got 'x'"),
    ("integrator_array kappa='x'", lambda: sc.integrator_array(A, b, kappa_max="x"), MatrixError, "kappa_max must be a number >= 1, got 'x'"),
    ('capacitive_spu indef', lambda: sc.capacitive_spu(np.diag([1., -1])), MatrixError, 'A is not positive definite: smallest eigenvalue \\-1 <= 0'),
    ('capacitive_spu temp=-1', lambda: sc.capacitive_spu(A, temperature_k=-1), RealizabilityError, 'temperature must be finite and >= 0 K, got \\-1'),
    ('capacitive_inv time=-1', lambda: sc.capacitive_inv(AC, time=-1), ParseError, 'time must be finite and > 0, got \\-1'),
    ('capacitive_inv chains=0', lambda: sc.capacitive_inv(AC, chains=0), StepError, 'chains must be an integer >= 1, got 0'),
    ('capacitive_sample n=0', lambda: sc.capacitive_sample(A, 0), MatrixError, 'n_samples must be an integer >= 2, got 0'),
    ('capacitive_sample n=-1', lambda: sc.capacitive_sample(A, -1), MatrixError, 'n_samples must be an integer >= 2, got \\-1'),
    ('capacitive_sample n=2.5', lambda: sc.capacitive_sample(A, 2.5), MatrixError, 'n_samples must be an integer >= 2, got 2\\.5'),
    ('capacitive_sample spacing=-1', lambda: sc.capacitive_sample(np.linalg.inv(AC), 10, spacing=-1), ParseError, 'time must be finite and > 0, got \\-1'),
    # issue 16: sample, lyap, conditional, expm / expnegm, logdet, identify
    ('sample n=10', lambda: sc.sample(A, 10), MatrixError, 'n_samples must be an integer >= 64, got 10'),
    ("sample given='both'", lambda: sc.sample(A, 100, given="both"), MatrixError, "given must be one of \\('precision', 'covariance'\\), got 'both'"),
    ('sample mean shape', lambda: sc.sample(A, 100, mean=np.ones(3)), MatrixError, 'mean has wrong shape \\(3,\\): expected \\(4,\\) to match'),
    ('sample indefinite', lambda: sc.sample(np.diag([1.0, -1, 2]), 100), MatrixError, 'P is not positive definite: smallest eigenvalue \\-1 <= 0'),
    ("sample architecture='analog'", lambda: sc.sample(A, 100, architecture="analog"), MatrixError, "architecture must be one of \\('integrator', 'capacitive'\\), got 'analog'"),
    ('sample capacitive unrealisable', lambda: sc.sample(A, 100, architecture="capacitive"), RealizabilityError, 'A cannot be realised by passive coupling capacitors'),
    ('lyap unstable F', lambda: sc.lyap(np.array([[0.1, 0.0], [0.0, -1.0]]), np.eye(2)), MatrixError, 'F is not stable: its largest eigenvalue real part is 0\\.1 >= 0'),
    ('lyap Q indefinite', lambda: sc.lyap(-np.eye(2), np.diag([1.0, -1.0])), MatrixError, 'Q is not positive semi\\-definite: smallest eigenvalue \\-1 < 0'),
    ('lyap Q shape', lambda: sc.lyap(-np.eye(2), np.eye(3)), MatrixError, 'Q has wrong shape \\(3, 3\\): expected \\(2, 2\\)'),
    ('lyap non-square F', lambda: sc.lyap(np.ones((2, 3)), np.eye(2)), MatrixError, 'F has wrong shape \\(2, 3\\): expected a non\\-empty square'),
    ('conditional observed 5', lambda: sc.conditional(A, [5], [0.0]), MatrixError, 'observed index 5 is outside 0\\.\\.3'),
    ('conditional values shape', lambda: sc.conditional(A, [0], [0.0, 1.0]), MatrixError, 'values has wrong shape \\(2,\\): expected \\(1,\\)'),
    ('conditional indefinite', lambda: sc.conditional(np.diag([1.0, -1, 2]), [0], [0.0]), MatrixError, 'P is not positive definite'),
    ('expm unstable', lambda: sc.expm(np.array([[0.1, 0.0], [0.0, -1.0]])), MatrixError, "expm\\(A\\) on the twin needs a stable A: the circuit's drift A has an eigenvalue with real part 0\\.1"),
    ('expm non-square', lambda: sc.expm(np.ones((2, 3))), MatrixError, 'A has wrong shape \\(2, 3\\): expected a non\\-empty square'),
    ('expnegm unstable', lambda: sc.expnegm(np.array([[1.0, 0.0], [0.0, -0.5]])), MatrixError, "expnegm\\(A\\) needs every eigenvalue of A with a positive real part"),
    ('expnegm nan', lambda: sc.expnegm(np.array([[1.0, np.nan], [0.0, 1.0]])), MatrixError, 'A contains NaN or inf \\(first at A\\[0,1\\] = nan\\)'),
    ('logdet indefinite', lambda: sc.logdet(np.array([[1.0, 2.0], [2.0, 1.0]])), MatrixError, 'A is not positive definite: smallest eigenvalue \\-1 <= 0'),
    ('logdet non-symmetric', lambda: sc.logdet(np.array([[2.0, 1.0], [0.0, 2.0]])), MatrixError, 'A is not symmetric: A\\[0,1\\] = 1\\.0 but A\\[1,0\\] = 0\\.0'),
    ('logdet non-square', lambda: sc.logdet(np.ones((2, 3))), MatrixError, 'A has wrong shape \\(2, 3\\): expected a non\\-empty square'),
    ('identify unprogrammed', lambda: identify(Device(None, seed=0)), SPUError, 'program the device first'),
    ('diagonal_rescaling bad', lambda: sc.diagonal_rescaling(np.ones((2, 3))), MatrixError, 'M has wrong shape \\(2, 3\\): expected a non\\-empty square \\(n,'),
    ('SPU(None)', lambda: sc.SPU(None), NetlistError, 'cannot program a NoneType: give a Netlist or MappedCircuit'),
    ('SPU(A)', lambda: sc.SPU(A), NetlistError, 'cannot program a ndarray: give a Netlist or MappedCircuit'),
    ('SPU chains=0', lambda: sc.SPU(mc, chains=0), StepError, 'chains must be an integer >= 1, got 0'),
    ('SPU chains=1e9', lambda: sc.SPU(mc, chains=10**9), StepError, r"1000000000 chains x 4 states x 8 arrays of 8 bytes\), above the limit of 4 GB"),
    ('SPU dt=0', lambda: sc.SPU(mc, dt=0), StepError, 'time step must be finite and > 0 s, got 0\\.0'),
    ("SPU dt='x'", lambda: sc.SPU(mc, dt="x"), StepError, "time step must be a number of seconds, got 'x'"),
    ('SPU scheme=x', lambda: sc.SPU(mc, scheme="x"), StepError, "unknown scheme 'x': use 'exponential' \\(alias 'exact'\\), 'euler' or"),
    ('SPU temp=-1', lambda: sc.SPU(mc, temperature_k=-1), NetlistError, 'temperature must be finite and >= 0 K, got \\-1\\.0'),
    ('SPU temp=None', lambda: sc.SPU(mc, temperature_k=None), NetlistError, 'temperature must be a number of kelvin, got None'),
    ('SPU seed=-1', lambda: sc.SPU(mc, seed=-1), SPUError, 'seed must be None or an integer >= 0, got \\-1'),
    ("SPU seed='x'", lambda: sc.SPU(mc, seed="x"), SPUError, "seed must be None or an integer >= 0, got 'x'"),
    ('SPU.run time=-1', lambda: sc.SPU(mc, seed=1).run(-1), ParseError, 'time must be finite and > 0, got \\-1'),
    ('SPU.run time=None', lambda: sc.SPU(mc, seed=1).run(None), ParseError, "cannot parse time None: use e\\.g\\. '50tau', '10us', '2e\\-5'"),
    ("SPU.run time='x'", lambda: sc.SPU(mc, seed=1).run("x"), ParseError, "cannot parse time 'x': use e\\.g\\. '50tau', '10us', '2e\\-5'"),
    ('SPU.run time=1e308', lambda: sc.SPU(mc, seed=1).run(1e308), StepError, 'a run of 1e\\+308 s in steps of 3\\.059e\\-07 s needs inf steps,'),
    ('SPU.run max_samples=0', lambda: sc.SPU(mc, seed=1).run(1e-5, max_samples=0), StepError, 'max_samples must be an integer >= 1, got 0'),
    ('SPU.run max_samples=-1', lambda: sc.SPU(mc, seed=1).run(1e-5, max_samples=-1), StepError, 'max_samples must be an integer >= 1, got \\-1'),
    ('SPU.run save_every=-1', lambda: sc.SPU(mc, seed=1).run(1e-5, save_every=-1), StepError, 'save_every must be an integer >= 1, got \\-1'),
    ('SPU.run save_every=2.5', lambda: sc.SPU(mc, seed=1).run(1e-5, save_every=2.5), StepError, 'save_every must be an integer >= 1, got 2\\.5'),
    ('SPU.run dt=-1', lambda: sc.SPU(mc, seed=1).run(1e-5, dt=-1), StepError, 'time step must be finite and > 0 s, got \\-1\\.0'),
    ('SPU.set_rhs wrong', lambda: sc.SPU(mc, seed=1).set_rhs(np.ones(3)), MatrixError, 'b has wrong shape \\(3,\\): expected \\(4,\\) to match the matrix'),
    ('SPU.set_rhs nan', lambda: sc.SPU(mc, seed=1).set_rhs(np.full(4, np.nan)), MatrixError, 'b contains NaN or inf \\(first at b\\[0\\] = nan\\)'),
    ('SPU.set_rhs str', lambda: sc.SPU(mc, seed=1).set_rhs("abc"), MatrixError, 'b is not a numeric array: could not convert string to'),
    ('SPU.reset str', lambda: sc.SPU(mc, seed=1).reset("abc"), NetlistError, 'x0 must be finite with shape \\(4,\\) or \\(1, 4\\), got shape \\(\\)'),
    ('SPU.set_dt nan', lambda: sc.SPU(mc, seed=1).set_dt(np.nan), StepError, 'time step must be finite and > 0 s, got nan'),
    ('SPU netlist rhs', lambda: sc.SPU(nl, seed=1).set_rhs(np.ones(1)), NetlistError, 'set_rhs needs a MappedCircuit; use set_input for a raw'),
    ('compile temp=-1', lambda: compile_netlist(nl, -1), NetlistError, 'temperature must be finite and >= 0 K, got \\-1\\.0'),
    ("compile temp='x'", lambda: compile_netlist(nl, "x"), NetlistError, "temperature must be a number of kelvin, got 'x'"),
    ('compile factorization=x', lambda: compile_netlist(nl, fast=False, factorization="bogus"), NetlistError, "factorization must be one of \\('auto', 'dense', 'sparse'\\),"),
    ('compile empty', lambda: compile_netlist(Netlist("e")), NetlistError, 'netlist is empty'),
    ('read_spice missing', lambda: read_spice("missing.cir"), SpiceError, 'missing\\.cir: cannot read netlist: No such file or directory'),
    ('read_spice int', lambda: read_spice(5), SpiceError, '<none>: read_spice needs a file path, got int'),
    ('read_spice dir', lambda: read_spice("adir"), SpiceError, 'adir: cannot read netlist: Is a directory'),
    ('write_spice None', lambda: write_spice(None, "x.cir"), SpiceError, '<netlist>: cannot export a NoneType: give a Netlist or'),
    ('write_spice dir', lambda: write_spice(mc, "adir"), SPUError, 'cannot write adir: Is a directory'),
    ('write_spice tran bad', lambda: write_spice(mc, "x.cir", tran=(1, -1, 1)), SpiceError, '<netlist>: tran needs tstep > 0, tmax > 0 and 0 <= tstart <'),
    ('write_spice tran str', lambda: write_spice(mc, "x.cir", tran="abc"), SpiceError, '<netlist>: tran must be \\(tstep, tstop\\[, tmax\\[, tstart\\]\\]\\) in'),
    ('write_spice noise bad', lambda: write_spice(mc, "x.cir", noise={"bogus": 1}), SpiceError, '<netlist>: noise needs a \\.tran card: give tran=\\(tstep,'),
    ('to_graphml None', lambda: sc.to_graphml(None, "x.graphml"), NetlistError, 'expected a Netlist \\(or a circuit with \\.netlist\\), got'),
    ('to_graphml dir', lambda: sc.to_graphml(nl, "adir"), SPUError, 'cannot write adir: Is a directory'),
    ('plot_coupling_graph None', lambda: sc.plot_coupling_graph(None, "x.png"), NetlistError, 'expected a Netlist \\(or a circuit with \\.netlist\\), got'),
    ('Netlist R neg', lambda: Netlist("t").add_resistor("R1", "a", "0", -1), NetlistError, "resistor 'R1' has unrealizable value \\-1\\.0 Ohm: value must"),
    ('Netlist R nan', lambda: Netlist("t").add_resistor("R1", "a", "0", np.nan), NetlistError, "resistor 'R1' has unrealizable value nan Ohm: value must be"),
    ('Netlist R str', lambda: Netlist("t").add_resistor("R1", "a", "0", "1k"), NetlistError, "resistor values must be numbers, got \\['1k'\\]"),
    ('Netlist R None', lambda: Netlist("t").add_resistor("R1", "a", "0", None), NetlistError, "resistor 'R1' has unrealizable value nan Ohm: value must be"),
    ('Netlist name empty', lambda: Netlist("t").add_resistor("", "a", "0", 1), NetlistError, "invalid element name ''"),
    ('Netlist name space', lambda: Netlist("t").add_resistor("R 1", "a", "0", 1), NetlistError, "invalid element name 'R 1'"),
    ('Netlist node space', lambda: Netlist("t").add_resistor("R1", "a b", "0", 1), NetlistError, "invalid node name 'a b': must be non\\-empty without"),
    ('Netlist dup', lambda: rc2(), NetlistError, "duplicate element name 'R1'"),
    ('Netlist C ic nan', lambda: Netlist("t").add_capacitor("C1", "a", "0", 1e-9, ic_v=np.nan), NetlistError, 'non\\-finite initial condition among capacitors'),
    ('Netlist opamp gain -1', lambda: Netlist("t").add_opamp("U1", "a", "0", "b", gain=-1), NetlistError, "op\\-amp 'U1' has unrealizable value \\-1\\.0 V/V: open\\-loop gain"),
    ('Netlist noise neg', lambda: Netlist("t").add_noise_source("N1", "a", "0", -1), NetlistError, "white noise current source 'N1' has unrealizable value \\-1\\.0"),
    ('Netlist L 0', lambda: Netlist("t").add_inductor("L1", "a", "0", 0), NetlistError, "inductor 'L1' has unrealizable value 0\\.0 H: value must be"),
    ('Netlist V inf', lambda: Netlist("t").add_vsource("V1", "a", "0", np.inf), NetlistError, "DC voltage source 'V1' has unrealizable value inf V: value"),
    ('Netlist G nan', lambda: Netlist("t").add_vccs("G1", "a", "0", "b", "0", np.nan), NetlistError, "voltage\\-controlled current source 'G1' has unrealizable"),
    ('Netlist add_elements kind', lambda: Netlist("t").add_elements("Q", ["Q1"], np.array([[1, 0]]), [1.0]), NetlistError, "unknown element kind 'Q'; expected one of \\['C', 'G', 'I',"),
    ('Netlist add_elements shape', lambda: Netlist("t").add_elements("R", ["R1"], np.array([[1, 0, 2]]), [1.0]), NetlistError, 'resistor needs 2 nodes per element: 1 elements, node index'),
    ('Netlist add_elements len', lambda: Netlist("t").add_elements("R", ["R1", "R2"], np.array([[1, 0]]), [1.0]), NetlistError, 'resistor needs 2 nodes per element: 2 elements, node index'),
    ('Netlist find missing', lambda: nl.find("R9"), NetlistError, "no element named 'R9'"),
    ('Netlist set_value missing', lambda: nl.copy().set_value("R9", 1.0), NetlistError, "no element named 'R9'"),
    ('Netlist set_value neg', lambda: nl.copy().set_value("R1", -1.0), NetlistError, "resistor 'R1' has unrealizable value \\-1\\.0 Ohm: value must"),
    ('Netlist set_value str', lambda: nl.copy().set_value("R1", "x"), NetlistError, "value of 'R1' must be a number, got 'x'"),
    ('Netlist node_index missing', lambda: nl.node_index("zz"), NetlistError, "unknown node 'zz'"),
    ('Netlist elements kind', lambda: list(nl.elements("Q")), NetlistError, "unknown element kind 'Q'; expected one of \\['C', 'G', 'I',"),
    ('Netlist count kind', lambda: nl.count("Q"), NetlistError, "unknown element kind 'Q'; expected one of \\['C', 'G', 'I',"),
    ('Netlist validate floating', lambda: floating(), NetlistError, "dangling node 'a': only element 'R1' connects to it"),
    ('Device imperfection bad', lambda: Device("bogus"), SPUError, 'Device takes an imperfection model \\(or chain\\(\\.\\.\\.\\) of them,'),
    ('Device program indef', lambda: Device(None, seed=1).program(np.diag([1., -1])), MatrixError, 'A is not positive definite: smallest eigenvalue \\-1 <= 0'),
    ('Device program b wrong', lambda: Device(None, seed=1).program(A, np.ones(3)), MatrixError, 'b has wrong shape \\(3,\\): expected \\(4,\\) to match the matrix'),
    ('Device scale x', lambda: Device(None, seed=1, scale="bogus").program(A, b), RealizabilityError, "scale must be one of \\('bound', 'oracle'\\) or v_unit in V,"),
    ('Device kappa 0', lambda: Device(None, seed=1, kappa_max=0).program(A, b), MatrixError, 'kappa_max must be finite and >= 1, got 0'),
    ('Device unprogrammed solve', lambda: device_solve(Device(None, seed=1), b), SPUError, 'program the device first \\(Device\\.program\\(A, b\\)\\)'),
    ('device_solve chains=0', lambda: device_solve(Device(None, seed=1).program(A, b), b, chains=0), StepError, 'chains must be an integer >= 1, got 0'),
    ('device_solve time=-1', lambda: device_solve(Device(None, seed=1).program(A, b), b, time=-1), ParseError, 'time must be finite and > 0, got \\-1'),
    ('device_solve b wrong', lambda: device_solve(Device(None, seed=1).program(A, b), np.ones(3)), MatrixError, 'b has wrong shape \\(3,\\): expected \\(4,\\) to match the matrix'),
    ('device_solve not device', lambda: device_solve(A, b), SPUError, 'device_solve needs a Device \\(Device\\(imperfection,'),
    ('device_inv chains=0', lambda: device_inv(Device(None, seed=1).program(A), chains=0), StepError, 'chains must be an integer >= 1, got 0'),
    ('device_inv samples=-1', lambda: device_inv(Device(None, seed=1).program(A), samples=-1), StepError, 'max_samples must be an integer >= 1, got \\-1'),
    ('device_inv not device', lambda: device_inv(A), SPUError, 'device_inv needs a Device \\(Device\\(imperfection,'),
    ('ResistorBank bits=2.5', lambda: M.ResistorBank(2.5, (1e3, 1e6)), SPUError, 'ResistorBank: bits must be an integer >= 0, got 2\\.5'),
    ('Tolerance -1', lambda: M.Tolerance(-1), SPUError, 'Tolerance: pct must be finite and >= 0, got \\-1'),
    ('Tolerance nan', lambda: M.Tolerance(np.nan), SPUError, 'Tolerance: pct must be finite and >= 0, got nan'),
    ('OpAmpGain 0', lambda: M.OpAmpGain(0), SPUError, 'OpAmpGain: a0 must be > 0 \\(inf: ideal\\), got 0'),
    ('OpAmpGain -1', lambda: M.OpAmpGain(-1), SPUError, 'OpAmpGain: a0 must be > 0 \\(inf: ideal\\), got \\-1'),
    ('OpAmpOffset -1', lambda: M.OpAmpOffset(-1), SPUError, 'OpAmpOffset: sigma_v must be finite and >= 0, got \\-1'),
    ('OpAmpBandwidth 0', lambda: M.OpAmpBandwidth(0), SPUError, 'OpAmpBandwidth: gbw_hz must be finite and > 0, got 0'),
    ('OpAmpBandwidth r_out -1', lambda: M.OpAmpBandwidth(1e6, r_out_ohm=-1), SPUError, 'OpAmpBandwidth: r_out_ohm must be finite and >= 0, got \\-1'),
    ('SwitchResistance -1', lambda: M.SwitchResistance(-1), SPUError, 'SwitchResistance: r_on_ohm must be finite and >= 0, got \\-1'),
    ('opamp_profile bogus', lambda: opamp_profile("bogus"), SPUError, "unknown op\\-amp profile 'bogus': use one of ideal,"),
    ('opamp_profile None', lambda: opamp_profile(None), SPUError, 'unknown op\\-amp profile None: use one of ideal,'),
    ('converter_profile bogus', lambda: converter_profile("bogus"), SPUError, "unknown converter profile 'bogus': use one of ideal,"),
    ('converter dac bits 1', lambda: converter_profile("precision").dac(1, 2.0), SPUError, 'converter needs at least 2 bits, got 1'),
    ('converter dac fs 0', lambda: converter_profile("precision").dac(16, 0.0), SPUError, 'converter full scale must be finite and > 0 V, got 0\\.0'),
    ('converter adc fs nan', lambda: converter_profile("precision").adc(16, np.nan), SPUError, 'converter full scale must be finite and > 0 V, got nan'),
    ('chain bogus', lambda: M.chain(5) if hasattr(M, "chain") else __import__("spucircuit.imperfections.base", fromlist=["chain"]).chain(5), SPUError, 'chain\\(\\) takes imperfection models \\(ResistorBank\\(\\.\\.\\.\\),'),
    ('run_study bogus knob', lambda: run_study({"bogus": 1}), StudyError, "unknown study knob 'bogus'; knobs are: n, cond, matrices,"),
    ('run_study sweep bogus', lambda: run_study({"n": 4}, {"bits": ["x"]}), StudyError, "bits: expected an integer, got 'x'"),
    ('run_study matrices empty', lambda: run_study({"n": 4}, matrices=[]), StudyError, 'empty list of matrices'),
    ('run_study matrices str', lambda: run_study({"n": 4}, matrices=[np.array([["a"]])]), MatrixError, 'matrix 0 is not a numeric array: could not convert string'),
    ('run_study workers 0', lambda: run_study({"n": 4, "draws": 1, "matrices": 1}, workers=0), StudyError, 'workers must be an integer >= 1, got 0'),
    ('run_study scheduler bad', lambda: run_study({"n": 4, "draws": 1, "matrices": 1}, scheduler="bogus"), StudyError, "cannot use the Dask scheduler 'bogus': missing port number"),
    ('parse_sweep no =', lambda: parse_sweep(["bits"]), StudyError, "\\-\\-sweep needs NAME=VALUES, got 'bits'"),
    ('parse_sweep not list', lambda: parse_sweep("bits=1,2"), StudyError, "\\-\\-sweep needs NAME=VALUES, got 'b'"),
    ('convert bogus', lambda: convert("bogus", 1), StudyError, "unknown study knob 'bogus'; knobs are: n, cond, matrices,"),
    ('convert n list', lambda: convert("n", [1]), StudyError, 'n: expected an integer, got \\[1\\]'),
    ('solve_cost n=0', lambda: C.solve_cost(0), CostError, 'n must be a positive integer, got 0'),
    ('solve_cost n=None', lambda: C.solve_cost(None), CostError, 'give the size \\(n\\) or a circuit'),
    ('solve_cost n=2.5', lambda: C.solve_cost(2.5), CostError, 'n must be a positive integer, got 2\\.5'),
    ('solve_cost task x', lambda: C.solve_cost(16, task="bogus"), CostError, "task must be 'solve' or 'inv', got 'bogus'"),
    ('solve_cost samples 0', lambda: C.solve_cost(16, samples=0), CostError, 'samples must be a positive integer, got 0'),
    ('tngd_iteration_cost N=0', lambda: C.tngd_iteration_cost(0, 64, 10), CostError, 'N must be a positive integer, got 0'),
    ('tngd_iteration_cost N=nan', lambda: C.tngd_iteration_cost(np.nan, 64, 10), CostError, 'N must be a positive integer, got nan'),
    ('tngd_iteration_cost t=-1', lambda: C.tngd_iteration_cost(1000, 64, 10, t_tau=-1), CostError, 't_tau must be finite and >= 0, got \\-1'),
    ('compare_iteration upload x', lambda: C.compare_iteration(1000, 64, 10, upload="bogus"), CostError, "upload must be 'factor' or 'jacobian', got 'bogus'"),
    ('digital_work method x', lambda: C.digital_work("bogus", 1000, 64, 10), CostError, "unknown method 'bogus': use one of sgd, adam, ngd, ngd\\-cg,"),
    ('digital_iteration_cost method x', lambda: C.digital_iteration_cost("bogus", 1000, 64, 10), CostError, "unknown method 'bogus': use one of sgd, adam, ngd, ngd\\-cg,"),
    ('with_overrides bogus', lambda: C.with_overrides(bogus=1), CostError, "unknown cost parameter 'bogus'; known: tau_s, dac_bits,"),
    ('with_overrides tau bad', lambda: C.with_overrides(tau_s="abc"), CostError, "tau_s: cannot parse 'abc' as a time"),
    ('with_overrides bits 0', lambda: C.with_overrides(dac_bits=0), CostError, 'dac_bits must be an integer number of bits in 1\\.\\.32, got 0'),
    ('check_measured_rows bad', lambda: C.check_measured_rows([{"method": "x"}]), CostError, 'measured row 0 must have the keys method, N, b, dz,'),
    ('check_measured_rows not list', lambda: C.check_measured_rows(5), CostError, 'measured rows must be a list of \\{method, N, b, dz, seconds\\}'),
    ('device_load bogus', lambda: C.device_load(5), CostError, 'cannot count the components of a int: give a MappedCircuit,'),
    ('integrator_load 0', lambda: C.integrator_load(0), CostError, 'n must be a positive integer, got 0'),
    ('factored_load 0', lambda: C.factored_load(0, 64, 10), CostError, 'N must be a positive integer, got 0'),
    ('tngd_runtime_s N=-1', lambda: C.tngd_runtime_s(-1, 64, 10), CostError, 'N must be a positive integer, got \\-1'),
    ('paper_timing_model N=0', lambda: C.paper_timing_model(0, 64, 10), CostError, 'N must be a positive integer, got 0'),
    ('tngd.make_loss x', lambda: tngd.make_loss("bogus"), ConfigError, "unknown loss 'bogus': use one of \\['ce', 'cross\\-entropy',"),
    ('tngd.sgd lr -1', lambda: tngd.sgd(-1), ConfigError, 'learning rate must be finite and > 0, got \\-1\\.0'),
    ('tngd.sgd momentum nan', lambda: tngd.sgd(0.1, momentum=np.nan), ConfigError, 'momentum must be in \\[0, 1\\), got nan'),
    ('tngd.sgd momentum -1', lambda: tngd.sgd(0.1, momentum=-1), ConfigError, 'momentum must be in \\[0, 1\\), got \\-1'),
    ('tngd.sgd momentum 2', lambda: tngd.sgd(0.1, momentum=2), ConfigError, 'momentum must be in \\[0, 1\\), got 2'),
    ('tngd.adam lr nan', lambda: tngd.adam(np.nan), ConfigError, 'learning rate must be finite and > 0, got nan'),
    ('tngd.adam b1 2', lambda: tngd.adam(0.1, b1=2), ConfigError, 'Adam b1 must be in \\[0, 1\\), got 2\\.0'),
    ('tngd.adam eps -1', lambda: tngd.adam(0.1, eps=-1), ConfigError, 'eps must be finite and > 0, got \\-1\\.0'),
    ('tngd.ngd damping 0', lambda: tngd.ngd(0.1, damping=0), ConfigError, 'damping must be finite and > 0, got 0\\.0'),
    ('tngd.ngd_woodbury damping nan', lambda: tngd.ngd_woodbury(0.1, damping=np.nan), ConfigError, 'damping must be finite and > 0, got nan'),
    ('tngd.tngd t -1', lambda: tngd.tngd(0.1, t=-1), ConfigError, 'analog time t must be >= 0 \\(tau units\\), got \\-1'),
    ('tngd.tngd t nan', lambda: tngd.tngd(0.1, t=np.nan), ConfigError, 'analog time t must be >= 0 \\(tau units\\), got nan'),
    ('tngd.tngd td>t', lambda: tngd.tngd(0.1, t=1, td=2), ConfigError, 'delay td \\(2\\) must not exceed the analog time t \\(1\\)'),
    ('tngd.tngd kappa0 -1', lambda: tngd.tngd(0.1, kappa0=-1), ConfigError, 'kappa0 must be finite and >= 0, got \\-1\\.0'),
    ('tngd.tngd x0 x', lambda: tngd.tngd(0.1, x0="bogus"), ConfigError, "x0 must be one of warm, reset, paper \\(warm: Algorithm 1"),
    ('tngd.tngd_adam lr 0', lambda: tngd.tngd_adam(0), ConfigError, 'learning rate must be finite and > 0, got 0\\.0'),
    ('tngd.make_solver x', lambda: tngd.make_solver("bogus"), ConfigError, "unknown TNGD solver 'bogus': use one of \\['euler', 'exact',"),
    ('tngd.build_model x', lambda: tngd.build_model("rnn", digits()), ConfigError, "unknown model 'rnn': use 'mlp' or 'cnn'"),
    ('tngd.build_model hidden 0', lambda: tngd.build_model("mlp", digits(), hidden=[0]), ConfigError, 'hidden widths must be integers >= 1, got \\[0\\]'),
    ('tngd.build_model act x', lambda: tngd.build_model("mlp", digits(), activation="bogus"), ConfigError, "unknown activation 'bogus': use 'relu' or 'tanh'"),
    ('tngd.build_optimizer x', lambda: tngd.build_optimizer("bogus"), ConfigError, "unknown optimizer 'bogus': use one of sgd, adam, ngd,"),
    ('tngd.build_optimizer lr -1', lambda: tngd.build_optimizer("sgd", lr=-1), ConfigError, 'learning rate must be finite and > 0, got \\-1\\.0'),
    ('tngd.build_optimizer momentum nan', lambda: tngd.build_optimizer("sgd", lr=0.1, momentum=np.nan), ConfigError, 'momentum must be in \\[0, 1\\), got nan'),
    ('tngd.build_optimizer cg_iters 0', lambda: tngd.build_optimizer("ngd-cg", lr=0.1, cg_iters=0), ConfigError, 'CG iterations must be >= 1, got 0'),
    ('tngd.train steps 0', lambda: tngd.train(digits(), tngd.build_model("mlp", digits(), hidden=[3]), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps=0), ConfigError, 'steps must be an integer >= 1, got 0'),
    ('tngd.train steps -1', lambda: tngd.train(digits(), tngd.build_model("mlp", digits(), hidden=[3]), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps=-1), ConfigError, 'steps must be an integer >= 1, got \\-1'),
    ('tngd.train batch 0', lambda: tngd.train(digits(), tngd.build_model("mlp", digits(), hidden=[3]), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps=1, batch_size=0), ConfigError, 'batch_size must be an integer >= 1, got 0'),
    ('tngd.train steps 2.5', lambda: tngd.train(digits(), tngd.build_model("mlp", digits(), hidden=[3]), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps=2.5), ConfigError, 'steps must be an integer >= 1, got 2\\.5'),
    ('tngd.load_dataset x', lambda: tngd.load_dataset("bogus"), DataError, "unknown data set 'bogus': use 'digits', 'mnist', 'fashion\\-mnist', a"),
    ('tngd.load_dataset None', lambda: tngd.load_dataset(None), DataError, "unknown data set 'None': use 'digits', 'mnist', 'fashion\\-mnist', a"),
    ('tngd.load_dataset n_train 0', lambda: tngd.load_dataset("digits", 0), DataError, 'n_train must be >= 1, got 0'),
    ('tngd.load_dataset n_train 2.5', lambda: tngd.load_dataset("digits", 2.5), DataError, 'n_train must be an integer >= 1, got 2\\.5'),
    ("tngd.load_dataset n_train 'x'", lambda: tngd.load_dataset("digits", "x"), DataError, "n_train must be an integer >= 1, got 'x'"),
    ('tngd.load_npz missing', lambda: tngd.load_npz("missing.npz"), DataError, 'missing\\.npz: no such file'),
    ('tngd.load_npz text', lambda: tngd.load_npz("text.txt"), DataError, 'text\\.txt: not a readable \\.npz file \\(This file contains'),
    ('tngd.load_npz pickle', lambda: tngd.load_npz("obj.npz"), DataError, 'obj\\.npz: not a readable \\.npz file \\(Object arrays cannot be'),
    ('tngd.read_idx missing', lambda: tngd.read_idx("missing"), DataError, 'missing: no such file'),
    ('tngd.read_idx text', lambda: tngd.read_idx("text.txt"), DataError, 'text\\.txt: not an IDX file \\(magic 31203220 does not start'),
    ('tngd.read_idx empty', lambda: tngd.read_idx("empty"), DataError, 'empty: not an IDX file \\(only 0 bytes\\)'),
    ('tngd.write_idx object', lambda: tngd.write_idx("x.idx", np.array([None, 1], dtype=object)), DataError, 'IDX cannot store dtype object'),
    ('tngd.write_idx float64', lambda: tngd.write_idx("x.idx", np.ones(3, dtype=np.complex128)), DataError, 'IDX cannot store dtype complex128'),
    ('tngd.write_idx dir', lambda: tngd.write_idx("adir", np.ones(3, dtype=np.uint8)), DataError, 'cannot write adir: Is a directory'),
    ('tngd.load_idx_dir missing', lambda: tngd.load_idx_dir("missing"), DataError, 'missing: no such directory'),
    ('tngd.load_fashion_mnist missing', lambda: tngd.load_fashion_mnist("missing"), DataError, 'missing: no such directory \\(install the Debian package'),
    ('tngd.load_digits frac 1', lambda: tngd.load_digits(1), DataError, 'test_fraction must be in \\[0, 1\\), got 1'),
    ('tngd.load_digits frac nan', lambda: tngd.load_digits(np.nan), DataError, 'test_fraction must be in \\[0, 1\\), got nan'),
    ('tngd.load_mnist frac 1', lambda: tngd.load_mnist(1), DataError, 'test_fraction must be in \\[0, 1\\), got 1'),
    ('tngd.load_mnist missing', lambda: tngd.load_mnist(path="missing.csv"), DataError, 'missing\\.csv: no such file'),
    ('tngd.load_mnist text', lambda: tngd.load_mnist(path="text.txt"), DataError, 'text\\.txt: not a CSV file of integers'),
    ('tngd.load_mnist npz', lambda: tngd.load_mnist(path="one.npz"), DataError, 'one\\.npz: not a CSV file of integers'),
    ('tngd.load_mnist empty', lambda: tngd.load_mnist(path="empty"), DataError, 'empty: empty file'),
    ('tngd.load_mnist dir', lambda: tngd.load_mnist(path="adir"), DataError, 'adir: not a regular file'),
    ('tngd.load_digits frac -1', lambda: tngd.load_digits(-1), DataError, 'test_fraction must be in \\[0, 1\\), got \\-1'),
    ('tngd.chain empty', lambda: tngd.chain(), ConfigError, 'chain needs at least one optimizer'),
    ('tngd.mlp hidden 0', lambda: tngd.mlp((64,), 10, hidden=(0,)), ConfigError, 'mlp: hidden width must be an integer >= 1, got 0'),
    ('tngd.mlp hidden x', lambda: tngd.mlp((64,), 10, hidden=("x",)), ConfigError, "mlp: hidden width must be an integer >= 1, got 'x'"),
    ('tngd.mlp n_out 0', lambda: tngd.mlp((64,), 0), ConfigError, 'mlp: n_out must be an integer >= 1, got 0'),
    ('tngd.mlp act x', lambda: tngd.mlp((64,), 10, activation="bogus"), ConfigError, "unknown activation 'bogus': use 'relu' or 'tanh'"),
    ('tngd.cnn stride 0', lambda: tngd.cnn((1, 8, 8), 10, stride=0), ConfigError, 'convolution channels, kernel and stride must be >= 1'),
    ('tngd.cnn kernel 100', lambda: tngd.cnn((1, 8, 8), 10, kernel=100), ConfigError, 'images 8x8 are smaller than the 100x100 kernel'),
    ('tngd.cnn shape 1d', lambda: tngd.cnn((64,), 10), ConfigError, 'the CNN needs image inputs \\(C, H, W\\) or \\(H, W\\), got example'),
    ('tngd.ngd_cg iters 0', lambda: tngd.ngd_cg(0.1, iters=0), ConfigError, 'CG iterations must be >= 1, got 0'),
    ('tngd.adam b2 1', lambda: tngd.adam(0.1, b2=1.0), ConfigError, 'Adam b2 must be in \\[0, 1\\), got 1\\.0'),
    ("tngd.train steps 'x'", lambda: tngd.train(digits(), tngd.build_model("mlp", digits(), hidden=[3]), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps="x"), ConfigError, "steps must be an integer >= 1, got 'x'"),
    ('tngd.train eval_every -1', lambda: tngd.train(digits(), tngd.build_model("mlp", digits(), hidden=[3]), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps=1, eval_every=-1), ConfigError, 'eval_every must be an integer >= 0, got \\-1'),
    ('tngd.train seed -1', lambda: tngd.train(digits(), tngd.build_model("mlp", digits(), hidden=[3]), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps=1, seed=-1), ConfigError, 'seed must be an integer >= 0, got \\-1'),
    ('tngd.train model mismatch', lambda: tngd.train(digits(), tngd.mlp((5,), 10, hidden=(3,)), tngd.make_loss("ce"), tngd.build_optimizer("sgd", lr=0.1), steps=1), ConfigError, 'mlp expects examples of shape \\(5,\\), got \\(1, 8, 8\\)'),
    ('tngd.build_optimizer solver_options bogus', lambda: tngd.build_optimizer("tngd", lr=0.1, solver="factored", solver_options={"bogus": 1}), ConfigError, "TNGD solver 'factored' has no option 'bogus'; its options:"),
    ('tngd.build_optimizer solver x', lambda: tngd.build_optimizer("tngd", lr=0.1, solver="bogus"), ConfigError, "unknown TNGD solver 'bogus': use one of \\['euler', 'exact',"),
    ('tngd.build_optimizer x0 x', lambda: tngd.build_optimizer("tngd", lr=0.1, x0="bogus"), ConfigError, "x0 must be one of warm, reset, paper \\(warm: Algorithm 1"),
    ('tngd.load_npz labels float', lambda: tngd.load_npz("fl.npz"), DataError, 'fl\\.npz: y_train: labels must be integers \\(class indices\\),'),
    ('tngd.load_npz 1 example', lambda: tngd.load_npz("one.npz"), DataError, 'one: need at least 2 classes, labels only contain \\[0\\]'),
    ('ResistorBank range reversed', lambda: Device(M.ResistorBank(8, (1e6, 1e3)), seed=1).program(A, b), SPUError, 'bank range must satisfy 0 < lo < hi, got \\(1000000\\.0, 1000\\.0\\)'),
    ('ResistorBank grid', lambda: Device(M.ResistorBank(8, grid="bogus"), seed=1).program(A, b), SPUError, "unknown bank grid 'bogus': use one of \\['conductance',"),
    ('ResistorBank rounding', lambda: Device(M.ResistorBank(8, rounding="bogus"), seed=1).program(A, b), SPUError, "unknown rounding 'bogus': use 'nearest' or 'stochastic'"),
    ('Tolerance dist', lambda: Device(M.Tolerance(1, dist="bogus"), seed=1).program(A, b), SPUError, "unknown tolerance distribution 'bogus': use 'gaussian' or"),
    ('Rails 0', lambda: Device(M.Rails(0), seed=1).program(A, b), SPUError, 'rail_v must be finite and > 0 V, got 0'),
    ('Rails nan', lambda: Device(M.Rails(np.nan), seed=1).program(A, b), SPUError, 'rail_v must be finite and > 0 V, got nan'),
    ('Thermal -1', lambda: Device(M.Thermal(-1), seed=1).program(A, b), SPUError, 'temperature must be finite and >= 0 K, got \\-1'),
    ('InjectedNoise -1', lambda: Device(M.InjectedNoise(-1), seed=1).program(A, b), NetlistError, "white noise current source 'NX0' has unrealizable value"),
    ('OpAmpGain spread -1', lambda: M.OpAmpGain(1e4, spread_pct=-1), SPUError, 'OpAmpGain: spread_pct must be finite and >= 0, got \\-1'),
    ('OpAmpBandwidth gm 0', lambda: M.OpAmpBandwidth(1e6, gm_siemens=0), SPUError, 'OpAmpBandwidth: gm_siemens must be finite and > 0, got 0'),
    ('OpAmpBandwidth with Rails', lambda: Device(chain(M.Rails(1.0), M.OpAmpBandwidth(1e6)), seed=1).program(A, b), SPUError, 'rails with the op\\-amp bandwidth macromodel are not modelled'),
    ('Parasitics -1', lambda: Device(M.Parasitics(c_summing_f=-1), seed=1).program(A, b), NetlistError, 'parasitic capacitance at the summing/output nodes needs the'),
    ('CapacitorBank 2.5', lambda: M.CapacitorBank(2.5), SPUError, 'CapacitorBank: bits must be an integer >= 0, got 2\\.5'),
    ('DAC bits 1', lambda: M.DAC(1), SPUError, 'converter needs at least 2 bits, got 1'),
    ('DAC full scale 0', lambda: M.DAC(16, 0.0), SPUError, 'converter full scale must be finite and > 0 V, got 0\\.0'),
    ('ADC full scale nan', lambda: M.ADC(16, np.nan), SPUError, 'converter full scale must be finite and > 0 V, got nan'),
    ('chain of a number', lambda: chain(5), SPUError, 'chain\\(\\) takes imperfection models \\(ResistorBank\\(\\.\\.\\.\\),'),
]


@pytest.fixture
def in_files(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "text.txt").write_text("1 2 3\n")
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "adir").mkdir()
    np.savez(tmp_path / "obj.npz", x_train=np.array([None, 1], dtype=object))
    np.savez(tmp_path / "fl.npz", x_train=np.ones((4, 3)), y_train=np.array([0.5, 1, 0, 1]))
    np.savez(tmp_path / "one.npz", x_train=np.ones((1, 3)), y_train=np.array([0]))
    return tmp_path


@pytest.mark.parametrize("call, error, match", [c[1:] for c in API_CASES], ids=[c[0] for c in API_CASES])
def test_api_bad_input_raises_the_packages_own_error(in_files, call, error, match):
    with pytest.raises(error, match=match) as info:
        call()
    assert isinstance(info.value, (SPUError, TNGDError))
    assert not any(p.name.startswith(("x.", ".tmp")) for p in in_files.iterdir()), "wrote a file"
