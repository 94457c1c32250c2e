"""Issue 17, item 4: the work a netlist starts is bounded before it starts. The element count after
flattening subcircuits is multiplied out from the definitions (O(lines)) and checked against a
limit the user can raise; recursive definitions are refused."""
import numpy as np
import pytest

from spucircuit.cli import main as spu
from spucircuit.errors import SpiceError
from spucircuit.io.spice import MAX_ELEMENTS, parse_spice


def nested(levels: int, fanout: int) -> str:
    """A netlist whose top instance expands to fanout**levels resistors (plus C1 and R0: 2 more)."""
    lines = ["nested subcircuits", ".subckt s0 a b", "R1 a b 1k", ".ends"]
    for k in range(1, levels + 1):
        lines += [f".subckt s{k} a b"] + [f"X{j} a b s{k - 1}" for j in range(fanout)] + [".ends"]
    return "\n".join(lines + [f"X1 in 0 s{levels}", "C1 in 0 1n", "R0 in 0 1k", ".end", ""])


@pytest.mark.parametrize("bulk", [True, False])
def test_the_count_before_flattening_is_the_count_after(bulk):
    text = nested(3, 7)  # 343 + 2 elements
    nl = parse_spice(text, bulk=bulk, max_elements=345)
    assert len(nl) == 345 and nl.count("R") == 344
    with pytest.raises(SpiceError, match=r"expands to 345 elements .* subcircuit 's3' alone has 343\), above the "
                                         r"limit of 344: raise it with --max-elements"):
        parse_spice(text, bulk=bulk, max_elements=344)


def test_a_kilobyte_that_would_expand_to_a_billion_is_refused_at_once(tmp_path, capsys):
    text = nested(9, 10)  # 1e9 resistors from about 1 kB
    assert len(text) < 1500
    cir = tmp_path / "bomb.cir"
    cir.write_text(text)
    for argv in (["check", str(cir)], ["simulate", str(cir), "--out", str(tmp_path / "x.npz")],
                 ["graph", str(cir), "-o", str(tmp_path / "g.png")], ["cost", "--netlist", str(cir)]):
        assert spu(argv) == 2
        err = capsys.readouterr().err
        assert "expands to 1,000,000,002 elements" in err and f"limit of {MAX_ELEMENTS:,}" in err
        assert err.count("\n") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.cir"]


def test_recursive_subcircuits_are_refused():
    text = "rec\n.subckt a p q\nX1 p q b\n.ends\n.subckt b p q\nX1 p q a\nR1 p q 1k\n.ends\nX1 1 0 a\nC1 1 0 1n\n.end\n"
    with pytest.raises(SpiceError, match=r":6: subcircuit 'a' instantiates itself \(a -> b -> a\)"):
        parse_spice(text)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, None, np.inf])
def test_max_elements_must_be_a_positive_integer(bad):
    with pytest.raises(SpiceError, match="max_elements must be an integer >= 1"):
        parse_spice(nested(1, 2), max_elements=bad)
