"""ngspice's resistor instance parameter ``noisy=0`` (examples/noise/resdiv.cir): a resistor without Johnson
noise; the default ``noisy=1`` has it (issue 13 follow-up)."""
import pytest

from spucircuit.constants import K_B
from spucircuit.errors import SpiceError
from spucircuit.io.spice import parse_spice
from spucircuit.io.spice.writer import write_spice
from spucircuit.statespace.mna import compile_netlist

R1, R2, C = 10e3, 20e3, 1e-6
DIV = f"d\nR1 a 0 {R1}\nR2 a 0 {R2}{{}}\nC1 a 0 {C}\n.end\n"


def _diffusion_cov(text):
    return float(compile_netlist(parse_spice(text)).diffusion[0, 0])  # the diffusion matrix D of dx = ... + dW, <dW dW^T> = D dt


@pytest.mark.parametrize("flag, resistors", [("", (R1, R2)), (" noisy=1", (R1, R2)), (" noisy=0", (R1,))])
def test_noisy_flag_sets_the_johnson_noise_on_the_capacitor(flag, resistors):
    """dv = ... + sqrt(D) dW on the capacitor voltage: D = sum over noisy resistors of 2 k_B T / (R C^2)
    (one-sided current PSD 4 k_B T / R, half of it as the two-sided diffusion)."""
    t = 300.0
    want = sum(2 * K_B * t / (r * C**2) for r in resistors)
    assert _diffusion_cov(DIV.format(flag)) == pytest.approx(want, rel=1e-12)


def test_noisy_flag_inside_a_subcircuit_and_through_an_export(tmp_path):
    sub = f"s\n.subckt div a\nR1 a 0 {R1}\nR2 a 0 {R2} noisy=0\nC1 a 0 {C}\n.ends\nX1 n div\n.end\n"
    want = 2 * K_B * 300.0 / (R1 * C**2)
    assert _diffusion_cov(sub) == pytest.approx(want, rel=1e-12)
    out = tmp_path / "e.cir"
    write_spice(parse_spice(DIV.format(" noisy=0")), out)
    assert _diffusion_cov(out.read_text()) == pytest.approx(want, rel=1e-12)


def test_bad_noisy_value_names_file_and_line():
    with pytest.raises(SpiceError, match=r":3: R2: noisy must be 0 or 1, got '2'"):
        parse_spice(DIV.format(" noisy=2"))
