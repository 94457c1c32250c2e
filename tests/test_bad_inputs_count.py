"""Issue 17's done-when: the suite replays at least 200 bad inputs across every subcommand and the
public API. Cases are counted once each (a command-line case is its program and argv, an API case
its name; a duplicate fails the test), so the suite cannot silently shrink or pad itself."""
import argparse
import shlex

from spucircuit.cli import build_parser as spu_parser
from tests import test_bad_inputs_api
from tests.cli import (
    test_bad_inputs,
    test_bad_inputs_spice,
    test_bad_inputs_study_cost,
    test_bad_inputs_tngd,
)
from tngd.cli import build_parser as tngd_parser

MODULES = (test_bad_inputs, test_bad_inputs_spice, test_bad_inputs_study_cost, test_bad_inputs_tngd)


def _commands(parser, prefix=()):
    """Every (sub)command path of an argparse parser, e.g. ('cost', 'solve')."""
    out = set()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.add(prefix + (name,))
                out |= _commands(sub, prefix + (name,))
    return out


def _cli_cases():
    return [(main.__module__.split(".")[0], " ".join(shlex.split(argv))) for mod in MODULES for main, argv, _ in mod.CASES]


def test_at_least_200_distinct_bad_inputs():
    cli = _cli_cases()
    api = [case[0] for case in test_bad_inputs_api.API_CASES]
    assert len(set(cli)) == len(cli), sorted({c for c in cli if cli.count(c) > 1})
    assert len(set(api)) == len(api), sorted({c for c in api if api.count(c) > 1})
    assert len(cli) + len(api) >= 200, (len(cli), len(api))


def test_every_subcommand_has_bad_inputs():
    words = {(prog, tuple(shlex.split(argv)[:2])) for prog, argv in _cli_cases()}
    for prog, parser in (("spucircuit", spu_parser()), ("tngd", tngd_parser())):
        for path in _commands(parser):
            assert any(w[: len(path)] == path for p, w in words if p == prog), f"no bad-input case for {prog} {path}"
