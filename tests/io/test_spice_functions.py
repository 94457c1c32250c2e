"""User functions (``.func``) in every expression, ngspice 39's one-argument min/max, and values that depend on
node voltages or branch currents (behavioural: refused, named with the line)."""
import math
import shutil
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from spucircuit.errors import SpiceError
from spucircuit.io.spice import parse_spice, write_spice

EPS = 4 * np.finfo(float).eps

# functions at the top level and inside a subcircuit (a local one shadows the global of the same name), nested
# calls, a body that reads a .param at the call site, a .param defined before the .func it calls (ngspice grabs
# every .func of a level first), both body spellings, zero arguments, ngspice's max(x) = max(1, x)
DECK = """user functions
.param early = {twice(3)}
.func twice(x) {2*x}
.func icap_calc(A,B,C,D) '2*A*sqrt(B*C*D)'
.func scaled(x) = {x*rscale}
.func half() {0.5}
.func nest(a, b) {twice(a) + icap_calc(1, b, 1, 1)}
.param rscale = 1k
.param cap_val = 'max(icap_calc(1,2,3,4))' small = 'max(0.25)' low = 'min(7)'
.subckt cell a b params: k=2
.func twice(x) {3*x}
.param rscale = 10
R1 a b {scaled(k)}
C1 b 0 {twice(k)*1n}
.ends
V1 1 0 DC 1
C1 1 0 'cap_val*1p'
R1 1 2 {early*1k}
R2 2 0 {nest(2, 9)}
R3 2 3 {scaled(half())}
R4 3 0 {small*1k}
R5 3 0 {low*1k}
X1 3 4 cell k=5
R6 4 0 1k
.tran 1n 10n
.end
"""


def test_user_functions_in_every_expression():
    v = {e.name: e.value for e in parse_spice(DECK).elements()}
    expected = {"C1": 2 * math.sqrt(24) * 1e-12, "R1": 6e3, "R2": 4 + 2 * 3, "R3": 500.0, "R4": 1e3,
                "R5": 1e3, "R.X1.R1": 50.0, "C.X1.C1": 15e-9, "R6": 1e3}
    assert {k: v[k] for k in expected} == pytest.approx(expected, rel=EPS)
    again = parse_spice(write_spice(parse_spice(DECK), None))  # the values, not the functions, are exported
    assert {e.name: e.value for e in again.elements()} == v


def test_user_functions_agree_with_ngspice():
    from tests.io.test_corpus import MEASURED, _compare_values

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    with tempfile.TemporaryDirectory() as work:
        assert _compare_values(parse_spice(DECK), DECK, work) == ""
    assert MEASURED["values"] < 1  # in units of the 1e-9 relative tolerance


@pytest.mark.parametrize("card, line, what", [
    ("R9 4 0 {twice(1, 2)}", 25, r"function 'twice' \(.func on line 3\) takes 1 argument\(s\), got 2"),
    ("R9 4 0 {half(1)}", 25, r"function 'half' \(.func on line 6\) takes 0 argument\(s\), got 1"),
    ("R9 4 0 {nope(1)}", 25, "unknown function 'nope'"),
    (".func loop(x) {1 + loop(x)}\nR9 4 0 {loop(1)}", 26, r"function 'loop' \(.func on line 25\) calls itself"),
    (".func ping(x) {pong(x)}\n.func pong(x) {ping(x)}\nR9 4 0 {ping(1)}", 27,
     r"calls itself \(ping -> pong -> ping\)"),
    (".func bad(x) {x + y}\nR9 4 0 {bad(1)}", 26, r"in function 'bad' \(.func on line 25\): unknown parameter 'y'"),
    (".func twice(y) {y}", 25, r".func twice is defined twice \(first on line 3\)"),
    (".func max(a, b) {a}", 25, "reserved"),
    (".func f(a, a) {a}", 25, "repeated"),
    (".func f(a {a}", 25, "bad .func card"),
    (".func f(a)", 25, "bad .func card|empty body"),
    (".func f(1a) {1}", 25, "bad argument name"),
])
def test_function_errors_name_the_line(card, line, what):
    text = DECK.replace(".tran", card + "\n.tran")
    with pytest.raises(SpiceError, match=what) as ei:
        parse_spice(text, "f.cir")
    assert str(ei.value).startswith(f"f.cir:{line}: "), str(ei.value)


def test_a_subcircuit_function_is_local_to_it():
    text = DECK.replace("R6 4 0 1k", "R6 4 0 {twice(1)*1k}")
    assert next(e.value for e in parse_spice(text).elements() if e.name == "R6") == 2e3  # the global twice
    text = ".func only_here".join(DECK.rsplit(".func twice", 1)).replace("{twice(k)*1n}", "{only_here(k)*1n}")
    text = text.replace("R6 4 0 1k", "R6 4 0 {only_here(1)}")
    with pytest.raises(SpiceError, match=r"<string>:24: R6 value: .*unknown function 'only_here'"):
        parse_spice(text)


@pytest.mark.parametrize("value, what", [
    ("'1k*v(200)'", r"v\(...\) is a node voltage"),
    ("{1k*(1 + v(1, 2))}", r"v\(...\) is a node voltage"),
    ("{1k*i(V1)}", r"i\(...\) is a branch current"),
])
def test_values_that_depend_on_the_circuit_are_refused_with_the_line(value, what):
    # ngspice's examples/various/tmp-noise.cir: R20 20 0 '1k*v(200)'
    with pytest.raises(SpiceError, match=r"t.cir:4: R20 value: .*" + what + ".*behavioural/nonlinear"):
        parse_spice(f"t\nV1 1 0 1\nR1 1 2 1k\nR20 2 0 {value}\n.end\n", "t.cir")


# numparam's numbers and functions in expressions (xpressn.c): inside braces 'mil' is milli, as ngspice 39 reads it
NUMPARAM = """numparam
V1 1 0 1
R1 1 0 {1mil}
R2 1 0 {2meg}
R3 1 0 {1e3k}
R4 1 0 {sqr(3)}
R5 1 0 {pwr(-2, 3)}
R6 1 0 {int(-2.7) + 5}
R7 1 0 {nint(2.5)}
R8 1 0 {sgn(-3) + 2}
R9 1 0 {arctan(1)}
R10 1 0 {ternary_fcn(0, 2, 3)}
R11 1 0 {asinh(1) + acosh(2) + atanh(0.5) + asin(0.5) + acos(0.5)}
R12 1 0 {max(0.5)*min(3)*pow(7)}
R13 1 0 1mil
.end
"""


def test_numparam_numbers_and_functions():
    v = {e.name: e.value for e in parse_spice(NUMPARAM).elements()}
    expected = {"R1": 1e-3, "R2": 2e6, "R3": 1e6, "R4": 9.0, "R5": 8.0, "R6": 3.0, "R7": 2.0, "R8": 1.0,
                "R9": math.pi / 4, "R10": 3.0,
                "R11": math.asinh(1) + math.acosh(2) + math.atanh(0.5) + math.asin(0.5) + math.acos(0.5),
                "R12": 1.0, "R13": 25.4e-6}
    assert {k: v[k] for k in expected} == pytest.approx(expected, rel=EPS)


def test_numparam_numbers_and_functions_agree_with_ngspice():
    from tests.io.test_corpus import MEASURED, _compare_values

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    with tempfile.TemporaryDirectory() as work:
        assert _compare_values(parse_spice(NUMPARAM), NUMPARAM, work) == ""
    assert MEASURED["values"] < 1


# numparam's operators (xpressn.c: fetchoperator, operate): precedence, |x|^y left-associative, % and \, logic
OPERATORS = """operators
V1 1 0 1
R1 1 0 {-2**2 + 10}
R2 1 0 {(-2)^3 + 10}
R3 1 0 {2^-1}
R4 1 0 {2^3^2}
R5 1 0 {2*-3 + 10}
R6 1 0 {-3 % 2 + 10}
R7 1 0 {7 \\ 2}
R8 1 0 {!0 + 1}
R9 1 0 {1 < 2 && 3 >= 3 || 0}
R10 1 0 {0 ? 1 : 2 ? 3 : 4}
R11 1 0 {1 != 2}
R12 1 0 {1 <> 1 + 1}
R13 1 0 {2 <= 1 ? 5 : 6}
R14 1 0 {(1 == 2) + (3 > 2) * 2 + 1}
R15 1 0 {pow(-2, 3) + 10}
.end
"""


def test_numparam_operators():
    v = {e.name: e.value for e in parse_spice(OPERATORS).elements()}
    expected = {"R1": 6.0, "R2": 18.0, "R3": 0.5, "R4": 64.0, "R5": 4.0, "R6": 9.0, "R7": 3.0, "R8": 2.0,
                "R9": 1.0, "R10": 3.0, "R11": 1.0, "R12": 1.0, "R13": 6.0, "R14": 3.0, "R15": 2.0}
    assert {k: v[k] for k in expected} == pytest.approx(expected, rel=EPS)


def test_numparam_operators_agree_with_ngspice():
    from tests.io.test_corpus import MEASURED, _compare_values

    if shutil.which("ngspice") is None:  # pragma: no cover - depends on the machine
        pytest.skip("ngspice is NOT installed")
    with tempfile.TemporaryDirectory() as work:
        assert _compare_values(parse_spice(OPERATORS), OPERATORS, work) == ""
    assert MEASURED["values"] < 1


@pytest.mark.parametrize("expr, what", [("{1 ? 2}", "expected ':'"), ("{5 % 0}", "division by zero"),
                                        ("{5 \\ 0}", "division by zero"), ("{1 <}", "unexpected end"),
                                        ("{" + "-" * 200 + "1}", "nested too deeply"),
                                        ("{2^" + "-" * 200 + "1}", "nested too deeply")])
def test_operator_errors(expr, what):
    with pytest.raises(SpiceError, match=r"o.cir:3: R1 value: .*" + what):
        parse_spice(f"t\nV1 1 0 1\nR1 1 0 {expr}\n.end\n", "o.cir")


_EXPR_TOKENS = ["1", "2.5", "1mil", "2meg", "0", "-", "+", "*", "/", "%", "\\", "^", "**", "(", ")", ",", "?", ":",
                "==", "=", "!=", "<>", "<", ">", "<=", ">=", "&&", "||", "!", "x", "twice(", "nest(", "half(",
                "rec(", "max(", "pow(", "ternary_fcn(", "v(", "i(", "sqrt(", "nint(", "1e308", "pi", " "]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(_EXPR_TOKENS), min_size=1, max_size=25))
def test_fuzz_expressions_raise_only_spice_error(toks):
    expr = "".join(toks)
    text = (".func twice(x) {2*x}\n.func nest(a, b) {twice(a) + b}\n.func half() {0.5}\n.func rec(x) {rec(x)}\n"
            f".param x = 3\nV1 1 0 1\nR1 1 0 {{{expr}}}\n.func body(x) {{{expr}}}\nR2 1 0 {{body(1)}}\n.end\n")
    try:
        parse_spice("fuzz\n" + text, "fz.cir")
    except SpiceError as exc:
        assert str(exc).startswith("fz.cir:")
