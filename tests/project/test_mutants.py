"""The mutation tester's data (.ci/mutants.toml) stays in step with the code: every file and test it names exists,
every named mutant applies (its original text occurs once), and a sample is drawn alike for a seed, interleaved
across packages. The tester itself is a tool (docs/testing.md), not run here."""
from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def mutants():
    try:
        import tomllib  # noqa: F401
    except ModuleNotFoundError:
        pytest.importorskip("tomli", reason="the mutation tester reads TOML: Python >= 3.11 or tomli")
    spec = importlib.util.spec_from_file_location("ci_mutants", ROOT / ".ci" / "mutants.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_the_data_names_existing_files_and_every_named_mutant_applies(mutants):
    data = mutants.load()
    assert set(data["packages"]) == {"simtheory", "empirical"}
    for m in data["named"]:
        text = (ROOT / m["file"]).read_text()
        assert text.count(m["old"]) == 1, m["name"]
        ast.parse(text.replace(m["old"], m["new"]))          # the mutant is still Python
    assert {mutants.package_of(data, m["file"]) for m in data["named"]} == {"simtheory", "empirical"}


def test_a_sample_is_drawn_alike_for_a_seed_and_interleaved(mutants):
    data = mutants.load()
    a = mutants.draw(data, 3, 7, ["simtheory", "empirical"])
    assert a == mutants.draw(data, 3, 7, ["simtheory", "empirical"]) != mutants.draw(data, 3, 8,
                                                                                     ["simtheory", "empirical"])
    assert [mutants.package_of(data, f) for f, _ in a] == ["simtheory", "empirical"] * 3
    for f, site in a:
        m = mutants.Mutator(site)
        tree = m.visit(ast.parse((ROOT / f).read_text()))
        assert m.done and ast.unparse(tree) != ast.unparse(ast.parse((ROOT / f).read_text())), (f, site)
