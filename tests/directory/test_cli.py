from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from mssante.cli import main
from mssante.cli_directory import _Bar


def test_generate_import_search(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MSSANTE_DATA_DIR", str(tmp_path / "data"))
    runner = CliRunner()
    out = tmp_path / "gen"
    generated = runner.invoke(main, ["directory", "generate", "--persons", "120", "--seed", "5", "--out", str(out),
                                     "--generation", "52", "--encoding", "latin-1"])
    assert generated.exit_code == 0, generated.output
    activity = next(out.glob("PS_LibreAcces_Personne_activite_*.txt"))
    mailboxes = next(out.glob("Extraction_Correspondance_MSSante_*.txt"))
    with activity.open("a", encoding="latin-1") as stream:
        stream.write("broken|line|\n")
    imported = runner.invoke(main, ["directory", "import", str(activity), str(mailboxes)])
    assert imported.exit_code == 0, imported.output
    assert "persons: inserted 120, updated 0, deactivated 0" in imported.output
    assert "(52 columns, latin-1)" in imported.output and "rejected 1" in imported.output
    rejects = tmp_path / "data" / "directory-rejects" / f"{activity.name}.rejects.txt"
    assert "expected 52 fields, found 2" in rejects.read_text()
    first_name = activity.read_text(encoding="latin-1").splitlines()[1].split("|")[7]
    found = runner.invoke(main, ["directory", "search", first_name.lower()])
    assert found.exit_code == 0 and first_name in found.output
    refused = runner.invoke(main, ["directory", "search", "--department", "999999"])
    assert refused.exit_code == 1 and "department" in refused.output and "Traceback" not in refused.output
    missing = runner.invoke(main, ["directory", "import", str(tmp_path / "missing.zip")])
    assert missing.exit_code == 1 and "cannot read" in missing.output


def test_progress_bar_shows_rate(capsys: pytest.CaptureFixture[str]) -> None:
    bar = _Bar(True)
    for done in (10, 500, 1000):
        bar(done, 1000, done // 10)
    assert bar.rate.startswith("100 lines,") and bar.rate.endswith("lines/s") and bar.bar is not None
    bar.close()  # click draws only on a terminal; here it must simply not fail
    capsys.readouterr()
    silent = _Bar(False)
    silent(1, 2, 3)
    silent.close()
    assert capsys.readouterr().err == ""


def test_progress_bar_gives_way_to_the_stages(capsys: pytest.CaptureFixture[str]) -> None:
    """After the reading, a line per stage (the merges, the commit) says what runs, on a terminal only."""
    bar = _Bar(True)
    bar(500, 1000, 50)
    bar.stage("merging the persons")
    bar(1000, 1000, 100)  # a late report of the reading draws no new bar
    bar.stage("committing")
    bar.close()
    lines = [line for line in capsys.readouterr().err.splitlines() if "…" in line]
    assert bar.bar is None and len(lines) == 2
    assert re.fullmatch(r"merging the persons… \(at \d+ s\)", lines[0]) and lines[1].startswith("committing… (at ")
    silent = _Bar(False)
    silent.stage("committing")
    assert capsys.readouterr().err == ""
