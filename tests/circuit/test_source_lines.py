"""Errors raised after parsing name the file and line of the elements they blame (issue 13): one
mechanism (spucircuit.circuit.source_lines), the error class unchanged."""
import copy

import pytest

from spucircuit.circuit.netlist import Netlist
from spucircuit.circuit.source_lines import SourceLines, locate_error
from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice import parse_spice
from spucircuit.statespace.mna import compile_netlist
from spucircuit.statespace.operating_point import initial_state, operating_point

DANGLING = "t\nV1 in 0 1\nR1 in a 1k\nC1 a 0 1n\nC2 a tip 1n\n.end\n"
NOT_PD = "t\nV1 a 0 1\nR1 a b 1\nL1 b 0 1m\nL2 s 0 1m\nL3 w 0 1m\nK12 L1 L2 0.9\nK13 L1 L3 0.9\nK23 L2 L3 -0.9\n.end\n"


def _raised(fn) -> NetlistError:
    with pytest.raises(NetlistError) as info:
        fn()
    return info.value


@pytest.mark.parametrize("step", ["validate", "compile", "op"])
def test_validate_error_names_file_and_line_and_keeps_its_class(step):
    nl = parse_spice(DANGLING, "d.cir")
    fn = {"validate": nl.validate, "compile": lambda: compile_netlist(nl), "op": lambda: operating_point(nl)}[step]
    exc = _raised(fn)
    assert type(exc) is NetlistError
    assert (exc.filename, exc.lineno) == ("d.cir", 5)  # C2, the element the message blames
    assert str(exc).startswith("d.cir:5: ")
    assert str(exc).count("d.cir:") == 1  # compile_netlist -> validate: located once


def test_compile_error_names_every_element_it_blames():
    exc = _raised(lambda: compile_netlist(parse_spice(NOT_PD, "pd.cir")))
    assert str(exc).startswith("pd.cir:7: the inductance matrix of the coupled inductors is not positive definite")
    assert str(exc).endswith("(also K13 on line 8, K23 on line 9)")
    assert exc.reason == str(exc)[len("pd.cir:7: "):]


def test_node_errors_blame_the_first_card_on_the_node():
    text = "t\nV1 a 0 1\nR1 a 0 1k\nC1 a b 1n\nR2 b c 1k\nC2 c 0 1n\n.end\n"
    exc = _raised(parse_spice(text, "f.cir").validate)
    assert str(exc).startswith("f.cir:4: node 'b' has no DC path to ground")
    exc = _raised(lambda: operating_point(parse_spice(text, "f.cir")))
    assert str(exc).startswith("f.cir:4: the DC operating point is not unique (involved: voltages of nodes b, c)")


def test_subcircuit_elements_name_the_line_in_the_definition():
    text = "t\n.subckt s a b\nC1 a x 1n\nC2 x b 1n\n.ends\nV1 in 0 1\nX1 in 0 s\nR1 in 0 1k\n.end\n"
    exc = _raised(lambda: compile_netlist(parse_spice(text, "s.cir")))
    assert str(exc).startswith("s.cir:3: node 'X1.x' has no DC path to ground")
    assert str(exc).endswith("(in subcircuit instance X1 on line 7)")


def test_uic_conflict_names_the_inductor_line():
    text = "t\nV1 in 0 1\nR1 in a 10\nL1 a 0 1m\nL2 s 0 4m IC=1m\nK1 L1 L2 0.5\n.tran 1u 1m uic\n.end\n"
    nl = parse_spice(text, "u.cir")
    exc = _raised(lambda: initial_state(compile_netlist(nl), nl))
    assert str(exc).startswith("u.cir:5: inductor 'L2' reaches nothing that carries current")


def test_netlists_not_from_a_file_and_located_errors_are_left_alone():
    nl = Netlist("t").add_resistor("R1", "a", "0", 1e3).add_capacitor("C1", "a", "0", 1e-9)
    nl.add_capacitor("C2", "a", "tip", 1e-9)
    exc = _raised(nl.validate)
    assert str(exc).startswith("dangling node 'tip'") and getattr(exc, "lineno", None) is None
    located = parse_spice(DANGLING, "d.cir")
    spice = SpiceError("bad", "x.cir", 3)
    locate_error(located, spice)
    assert str(spice) == "x.cir:3: bad"
    other = NetlistError("nothing named here")
    locate_error(located, other)
    assert str(other) == "nothing named here"


def test_the_line_map_is_shared_by_copies_and_not_written():
    nl = parse_spice(DANGLING, "d.cir")
    src = nl.meta["spice_file"]["lines"]
    assert isinstance(src, SourceLines) and len(src) == 4 and src.line_of(nl, "c2") == 5
    assert nl.copy().meta["spice_file"]["lines"] is src and copy.deepcopy(src) is src
    assert str(_raised(nl.copy().validate)).startswith("d.cir:5: ")
    from spucircuit.io.spice import write_spice  # the writer leaves meta['spice_file'] out

    assert "SourceLines" not in write_spice(nl)


def test_singular_mna_names_what_it_leaves_undetermined_and_where():
    """L2 - R1 - L0 in series: nodes n3 and x1 reach the rest only through inductors (an inductor cut-set
    with a resistor inside, not reduced), so their voltages are undetermined; the refusal names them and
    the first card on them."""
    text = "t\nV1 n1 0 1\nL0 0 n3 10\nR1 n3 x1 1k\nL2 n1 x1 1u\n.end\n"
    exc = _raised(lambda: compile_netlist(parse_spice(text, "s.cir")))
    assert str(exc).startswith("s.cir:3: circuit equations are singular (Factor is exactly singular) (involved: "
                               "voltages of nodes n3, x1)")


def test_random_rlc_netlists_with_couplings_raise_only_located_errors():
    """Seeded random R, L, C, K netlists with dangling and open ends (200): every path (validate, index
    reduction, MNA compile, operating point, .ac) either runs or raises a NetlistError naming file and line."""
    import random
    import warnings

    from spucircuit.statespace.frequency import small_signal_analyses

    rng = random.Random(13)
    outcomes = {"ran": 0, "refused": 0}
    for _ in range(200):
        nodes = ["0"] + [f"n{i}" for i in range(1, rng.randint(2, 6))] + ["x1", "x2"]
        lines, inductors = ["fuzz", "V1 n1 0 DC 1 AC 1"], []
        for i in range(rng.randint(2, 8)):
            k = rng.choice("RRLLLC")
            a, b = rng.sample(nodes, 2)
            lines.append(f"{k}{i} {a} {b} {rng.choice(['1k', '10', '1m', '1u', '1n'])}"
                         + (" IC=1m" if k == "L" and rng.random() < 0.2 else ""))
            inductors += [f"L{i}"] if k == "L" else []
        for j in range(rng.randint(0, 3) if len(inductors) >= 2 else 0):
            a, b = rng.sample(inductors, 2)
            lines.append(f"K{j} {a} {b} {rng.choice(['0.5', '-0.9', '0.99', '1', '0'])}")
        lines += [".ac dec 2 1k 1meg", ".tran 1u 10u" + rng.choice(["", " uic"]), ".end"]
        nl = parse_spice("\n".join(lines), "f.cir")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ss = compile_netlist(nl)
                initial_state(ss, nl)
                operating_point(nl)
                small_signal_analyses(nl)
            outcomes["ran"] += 1
        except NetlistError as exc:
            assert type(exc) in (NetlistError, SpiceError), exc
            assert str(exc).startswith("f.cir:"), "\n".join(lines) + "\n" + str(exc)
            outcomes["refused"] += 1
    print(outcomes)
    assert outcomes["ran"] >= 20 and outcomes["refused"] >= 20, outcomes  # both paths exercised
