"""The four command lines as a new user meets them: help on every option with its default shown once,
``--version``, ``--only`` typos, ``--out`` mistakes, and bad input refused before any folder or file exists."""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

import empirical.cli as ecli
import figures.__main__ as fmain
import paper_checks.__main__ as pmain
import simtheory.cli as scli
from simtheory.argfmt import HelpFormatter

ROOT = Path(__file__).resolve().parents[2]


def _parsers() -> list[tuple[str, argparse.ArgumentParser]]:
    """(name, parser) for each command and sub-command of the four command lines."""
    out = []
    captured = {}

    def grab(name):
        def parse_args(self, argv=None):
            captured[name] = self
            raise SystemExit(0)
        return parse_args

    for name, run in (("figures", fmain.main), ("paper_checks", pmain.main)):
        orig = argparse.ArgumentParser.parse_args
        argparse.ArgumentParser.parse_args = grab(name)
        try:
            with pytest.raises(SystemExit):
                run([])
        finally:
            argparse.ArgumentParser.parse_args = orig
        out.append((name, captured[name]))
    for name, ap in (("simtheory", scli._parser()), ("empirical", ecli.build_parser())):
        out.append((name, ap))
        for act in ap._actions:
            if isinstance(act, argparse._SubParsersAction):
                out += [(f"{name} {sub}", p) for sub, p in act.choices.items()]
    return out


PARSERS = _parsers()


@pytest.mark.parametrize("name, parser", PARSERS, ids=[n for n, _ in PARSERS])
def test_every_option_has_help_and_shows_its_default_once(name, parser):
    fmt = parser._get_formatter()
    assert isinstance(fmt, HelpFormatter), name
    for act in parser._actions:
        if isinstance(act, (argparse._HelpAction, argparse._VersionAction, argparse._SubParsersAction)):
            continue
        shown = fmt._expand_help(act)
        assert act.help and act.help.strip(), f"{name} {act.option_strings}: no help text"
        n = len(re.findall(r"\(default\b|;\s*default\b", shown, re.I))
        flag = act.nargs == 0
        if flag or act.required or not act.option_strings:
            assert n <= 1, f"{name} {act.option_strings}: {shown!r}"
        else:
            assert n == 1, f"{name} {act.option_strings}: default shown {n} times: {shown!r}"
    parser.format_help()                     # every %(default)s expands


# a help text cut mid-phrase ends on one of these words (or on an open bracket, quote or comma)
_DANGLING = {"a", "an", "the", "of", "and", "or", "but", "with", "its", "their", "this", "these", "than", "whose"}


def dangling(text: str) -> str | None:
    """Why ``text`` reads as cut mid-phrase (None when it reads whole): an article, a conjunction, a possessive or
    'of' as its last word, a trailing comma, colon or dash, or an unclosed bracket, quote or backtick."""
    t = text.strip()
    if not t:
        return "empty"
    last = t.split()[-1].lower()
    if last in _DANGLING or last.endswith("'s"):
        return f"ends on {last!r}"
    if t[-1] in ",;:-/(":
        return f"ends on {t[-1]!r}"
    for a, b in ("()", "[]", "{}"):
        if t.count(a) != t.count(b):
            return f"unbalanced {a}{b}"
    if t.count("`") % 2 or t.count('"') % 2:
        return "an unclosed quote"
    return None


def test_dangling_detects_cut_phrases():
    for cut in ("start each EM fit from the previous generation's", "seed of the", "keep a and", "the lr (default",
                "run `sims", "folder for the files,"):
        assert dangling(cut), cut
    for whole in ("start each EM fit from the previous generation's parameters", "a network.pt to sample from",
                  "processes of the local cluster, one thread each", "reduced sizes (seconds; used by the tests)"):
        assert dangling(whole) is None, whole


@pytest.mark.parametrize("name, parser", PARSERS, ids=[n for n, _ in PARSERS])
def test_no_help_text_is_cut_mid_phrase(name, parser):
    """Every option's help (and the command's description) reads as a whole phrase, and the formatted help shows
    all of it (argparse wraps, never cuts)."""
    fmt = parser._get_formatter()
    shown = "".join(parser.format_help().split())        # wrapping may break long words at hyphens
    for act in parser._actions:
        if isinstance(act, (argparse._HelpAction, argparse._VersionAction)) or not act.help:
            continue
        why = dangling(act.help)
        assert why is None, f"{name} {act.option_strings or act.dest}: help {why}: {act.help!r}"
        assert "".join(fmt._expand_help(act).split()) in shown, (name, act.option_strings)


@pytest.mark.parametrize("module, ap", [("simtheory", scli._parser()), ("empirical", ecli.build_parser())])
def test_help_lists_every_sub_command(module, ap):
    """--help names every registered sub-command, with its own help line, and the description's list of
    sub-commands is the registered set."""
    sub = next(a for a in ap._actions if isinstance(a, argparse._SubParsersAction))
    names = set(sub.choices)
    text = ap.format_help()
    for n in names:
        assert re.search(rf"^\s+{re.escape(n)}\s+\S", text, re.M), f"{module} --help: no line for {n}"
    described = ap.description.split("\n\n")[0] if module == "simtheory" else ap.description
    listed = set(re.findall(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*", described.split(":")[1].split(".")[0]))
    if module == "simtheory":
        listed = set(re.search(r"``simtheory ([a-z|]+)``", described).group(1).split("|"))
    assert names <= listed, f"{module}: the description misses {sorted(names - listed)}"


@pytest.mark.parametrize("module", ["simtheory", "empirical", "figures", "paper_checks"])
def test_version(module):
    run = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True, text=True, cwd=ROOT,
                         timeout=120)
    assert run.returncode == 0 and re.fullmatch(r".+ (\d+\.\d+\S*|unknown)\n", run.stdout), run


def test_figures_only_typo_exits_2_and_lists_the_valid_names(tmp_path, capsys):
    assert fmain.main(["--only", "fig_reward_curve", "--out", str(tmp_path / "f")]) == 2
    err = capsys.readouterr().err
    assert "fig_reward_curve" in err and all(m in err for m in fmain.MODULES)
    assert not (tmp_path / "f").exists()


def test_figures_out_into_a_file_is_an_error(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert fmain.main(["--quick", "--only", "fig_bertrand", "--out", str(tmp_path / "file" / "sub")]) == 2
    assert "is a file" in capsys.readouterr().err


def test_paper_checks_only_typo_exits_2_and_lists_the_valid_names(capsys):
    before = (ROOT / "paper_checks" / "REPORT.md").read_bytes()
    assert pmain.main(["--only", "c01_curated"]) == 2
    err = capsys.readouterr().err
    assert "c01_curated" in err and all(m in err for m in pmain.modules())
    assert (ROOT / "paper_checks" / "REPORT.md").read_bytes() == before


def test_paper_checks_only_never_overwrites_the_full_report(tmp_path, capsys):
    report = ROOT / "paper_checks" / "REPORT.md"
    before, mtime = report.read_bytes(), report.stat().st_mtime_ns
    assert pmain.main(["--quick", "--only", "c01_curated_density"]) == 0
    assert "C1.1" in capsys.readouterr().out
    assert report.read_bytes() == before and report.stat().st_mtime_ns == mtime
    out = tmp_path / "partial.md"
    assert pmain.main(["--quick", "--only", "c01_curated_density", "--out", str(out)]) == 0
    assert "| C1.1 |" in out.read_text()


def test_paper_checks_out_into_a_missing_folder_is_an_error(tmp_path, capsys):
    assert pmain.main(["--quick", "--only", "c01_curated_density", "--out", str(tmp_path / "nope" / "x.md")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "does not exist" in err and len(err.strip().splitlines()) == 1


def test_report_has_no_timing():
    text = (ROOT / "paper_checks" / "REPORT.md").read_text()
    assert not re.search(r"\bin \d+ s\b", text)


def test_simtheory_loop_refused_then_corrected(tmp_path, capsys):
    """N <= d is refused before the folder exists, so the corrected command runs in the same folder."""
    out = tmp_path / "run"
    assert scli.main(["loop", "--n-samples", "2", "--generations", "1", "--out", str(out)]) == 2
    assert "n_samples" in capsys.readouterr().err and not out.exists()
    assert scli.main(["loop", "--n-samples", "20", "--generations", "1", "--out", str(out)]) == 0
    assert json.loads((out / "config.json").read_text())["n_samples"] == 20


def _default_out(argv: list[str], capsys) -> str:
    assert scli.main([*argv, "--dry-run"]) == 0
    return json.loads(capsys.readouterr().out)["out"]


def test_loop_default_out_names_every_option_that_differs(capsys):
    base = _default_out(["loop"], capsys)
    changed = [["--dataset", "mixture2d"], ["--family", "gmm"], ["--n-samples", "50"], ["--K", "2"],
               ["--lam", "1"], ["--scheme", "fresh"], ["--generations", "3"], ["--estimator", "unbiased"],
               ["--components", "3"], ["--warm-start"], ["--n-real", "3000"], ["--seed", "5"], ["--data-seed", "7"]]
    names = {base}
    for opt in changed:
        extra = ["--family", "gmm"] if opt[0] in ("--components", "--warm-start") else []
        name = _default_out(["loop", *extra, *opt], capsys)
        assert name not in names, (opt, name)
        names.add(name)
    assert "n100" in base and "g10" in base
    exact = {_default_out(["exact", *o], capsys) for o in ([], ["--steps", "5"], ["--grid-size", "41"],
                                                          ["--seed", "2"], ["--K", "2"], ["--lam", "1"])}
    assert len(exact) == 6


def test_unreachable_scheduler_leaves_no_folder(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT", "2s")
    import dask
    dask.config.refresh()
    out = tmp_path / "s"
    rc = scli.main(["sweep", "--scheduler", "tcp://127.0.0.1:9", "--generations", "1", "--replicates", "1",
                    "--K", "1", "--lam", "inf", "--out", str(out)])
    assert rc == 2 and "127.0.0.1:9" in capsys.readouterr().err
    assert not out.exists()


def test_empirical_sample_bad_seeds_refused_before_any_file(tmp_path, capsys):
    net = tmp_path / "network.pt"
    net.write_bytes(b"")
    for seeds in ("5-1", "a-b", "7", "-3-2"):
        out = tmp_path / f"s{seeds}"
        assert ecli.main(["sample", "--network", str(net), f"--seeds={seeds}", "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and "--seeds" in err, err
        assert not out.exists()


@pytest.mark.parametrize("cmd", [["loop", "--config", "tiny"], ["train", "--config", "tiny"],
                                 ["classifier", "--config", "tiny"]])
def test_empirical_out_into_a_file_is_a_one_line_error(tmp_path, capsys, cmd):
    f = tmp_path / "a_file"
    f.write_text("x")
    assert ecli.main([*cmd, "--out", str(f)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error:") and "is a file" in err and len(err.strip().splitlines()) == 1
    assert f.read_text() == "x"
