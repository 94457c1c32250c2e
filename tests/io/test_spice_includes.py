""".include / .inc (io/spice/includes.py): other files read in place, relative to the including file, with
errors naming the file and line where they are (also in an included file, and after parsing), and the
result against ngspice on the same files."""
import shutil

import numpy as np
import pytest

from spucircuit.errors import NetlistError, SpiceError
from spucircuit.io.spice import parse_spice, read_spice
from spucircuit.statespace.frequency import small_signal_analyses
from spucircuit.statespace.mna import compile_netlist

TOP = 'top with includes\nV1 in 0 dc 1 ac 1\nR0 in x 500\n.include "models.inc"\nX1 x rcload\n.ac dec 2 1k 1meg\n.end\n'
MODELS = "* shared parts\n.subckt rcload a\nR1 a 0 1k\nC1 a 0 1n\n.ends\n.inc sub/deep.inc\n.end\n"


@pytest.fixture
def files(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "models.inc").write_text(MODELS)
    (tmp_path / "sub" / "deep.inc").write_text("R9 x 0 2k\n")
    (tmp_path / "top.cir").write_text(TOP)
    return tmp_path


def test_included_lines_are_read_in_place(files):
    nl = read_spice(files / "top.cir")
    assert sorted(nl.tables["R"].names) == ["R.X1.R1", "R0", "R9"]
    v = small_signal_analyses(nl)["ac_v"][0, 1]  # v(x) at 1 kHz: 1 V over 500 Ohm into 2k || 1k || 1 nF
    z = 1 / (1 / 2e3 + 1 / 1e3 + 2j * np.pi * 1e3 * 1e-9)
    assert abs(v - z / (500 + z)) < 1e-12
    if shutil.which("ngspice") is not None:  # ngspice reads the same files (relative to the netlist)
        import subprocess

        from spucircuit.io.rawfile import read_rawfile

        subprocess.run(["ngspice", "-b", "-r", "out.raw", "top.cir"], cwd=files, capture_output=True, timeout=30)
        ac = {p.plotname.lower(): p for p in read_rawfile(str(files / "out.raw"))}["ac analysis"]
        assert abs(ac["v(x)"][0] - v) < 1e-9 * abs(v)


def test_errors_name_the_included_file_and_its_line(files):
    (files / "sub" / "deep.inc").write_text("R9 x 0 2k\nR10 x 0 abc\n")
    with pytest.raises(SpiceError) as exc:
        read_spice(files / "top.cir")
    assert exc.value.filename.endswith("deep.inc") and exc.value.lineno == 2, str(exc.value)
    (files / "sub" / "deep.inc").write_text("R9 x 0 2k\n")
    (files / "top.cir").write_text(TOP.replace(".ac dec 2 1k 1meg", "Rbad 0 1k"))  # after the include
    with pytest.raises(SpiceError) as exc:
        read_spice(files / "top.cir")
    assert exc.value.filename.endswith("top.cir") and exc.value.lineno == 6, str(exc.value)


def test_errors_after_parsing_name_the_included_file(files):
    (files / "sub" / "deep.inc").write_text("R9 x 0 2k\nC9 y 0 1n\n")  # a capacitor alone on node y
    nl = read_spice(files / "top.cir")
    with pytest.raises(NetlistError) as exc:
        compile_netlist(nl)
    assert "deep.inc:2:" in str(exc.value) and "C9" in str(exc.value), str(exc.value)


@pytest.mark.parametrize("line, msg", [
    (".include missing.inc", "missing.inc: cannot read it"),
    (".include", ".include needs a file path"),
    (".include a b", "one path expected"),
    (".include top.cir", "the file includes itself"),
])
def test_bad_includes_name_the_line(files, line, msg):
    (files / "top.cir").write_text(TOP.replace('.include "models.inc"', line))
    with pytest.raises(SpiceError, match=r"top\.cir:4: .*" + msg.replace(".", r"\.")):
        read_spice(files / "top.cir")


def test_text_without_a_file_includes_from_the_current_directory(files, monkeypatch):
    monkeypatch.chdir(files)
    assert "R9" in parse_spice(TOP).tables["R"].names


LIB = ("* vendor models\n.lib tt\nR7 x 0 7k\n.lib models.lib common\n.endl\n.lib ff\nR7 x 0 3k\n.endl\n"
       ".lib common\nC7 x 0 2n\n.endl\n")
LIBTOP = "lib test\nV1 in 0 dc 1 ac 1\nR0 in x 500\n.lib models.lib {sec}\n.ac dec 2 1k 1meg\n.end\n"


@pytest.mark.parametrize("sec, r7, caps", [("tt", 7e3, ["C7"]), ("FF", 3e3, [])])
def test_lib_reads_one_section_and_what_it_calls(tmp_path, sec, r7, caps):
    (tmp_path / "models.lib").write_text(LIB)
    (tmp_path / "lib.cir").write_text(LIBTOP.format(sec=sec))
    nl = read_spice(tmp_path / "lib.cir")
    assert nl.tables["R"].values.tolist() == [500.0, r7]
    assert list(nl.tables["C"].names) == caps  # 'tt' calls the 'common' section of the same file, 'ff' does not
    if shutil.which("ngspice") is not None:
        import subprocess

        from spucircuit.io.rawfile import read_rawfile

        subprocess.run(["ngspice", "-b", "-r", "out.raw", "lib.cir"], cwd=tmp_path, capture_output=True, timeout=30)
        ng = {p.plotname.lower(): p for p in read_rawfile(str(tmp_path / "out.raw"))}["ac analysis"]["v(x)"]
        v = small_signal_analyses(nl)["ac_v"][:, 1]
        assert np.max(np.abs(v - ng) / np.abs(ng)) < 1e-9


@pytest.mark.parametrize("lib, card, msg", [
    (LIB, ".lib models.lib ss", r"lib\.cir:4: \.lib .*models\.lib ss: the file has no section 'ss'"),
    (".lib tt\nR7 x 0 7k\n", ".lib models.lib tt", r"models\.lib:1: \.lib tt: no \.endl"),
    (LIB, ".lib", r"lib\.cir:4: \.lib needs a section name"),
    (LIB, ".lib models.lib tt extra", r"lib\.cir:4: \.lib needs a file path and one section name"),
])
def test_bad_lib_cards_name_the_line(tmp_path, lib, card, msg):
    (tmp_path / "models.lib").write_text(lib)
    (tmp_path / "lib.cir").write_text(LIBTOP.replace(".lib models.lib {sec}", card))
    with pytest.raises(SpiceError, match=msg):
        read_spice(tmp_path / "lib.cir")


def test_a_lib_definition_in_the_main_file_is_read_only_when_called(tmp_path):
    text = "t\nV1 a 0 1\nR1 a 0 1k\n.lib extra\nR2 a 0 2k\n.endl\n.end\n"
    assert list(parse_spice(text).tables["R"].names) == ["R1"]
    (tmp_path / "t.cir").write_text(text.replace("\n.end\n", "\n.lib t.cir extra\n.end\n"))
    assert list(read_spice(tmp_path / "t.cir").tables["R"].names) == ["R1", "R2"]


def test_warnings_name_the_included_file(files):
    import warnings

    from spucircuit.errors import SpiceValueWarning

    (files / "sub" / "deep.inc").write_text("R9 x 0 2k\nR10 x 0 4K7\n")
    with warnings.catch_warnings(record=True) as got:
        warnings.simplefilter("always")
        read_spice(files / "top.cir")
    msgs = [str(w.message) for w in got if issubclass(w.category, SpiceValueWarning)]
    assert len(msgs) == 1 and msgs[0].startswith(str(files / "sub" / "deep.inc") + ":2: R10 value '4K7'"), msgs
