"""``mssante patient add|list|close|reopen`` against both engines, through click's runner."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from click.testing import CliRunner

from mssante.cli import main
from patient_inbox.accounts import change_state
from policies.ins import with_key
from policies.patient_lifecycle import Event
from storage.base import utcnow
from storage.engine import Database


def invoke(runner: CliRunner, env: dict[str, str], *args: str) -> tuple[int, str]:
    result = runner.invoke(main, ["patient", *args], env=env, catch_exceptions=False)
    return result.exit_code, result.output


def test_patient_commands(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"MSSANTE_DATA_DIR": str(tmp_path), "MSSANTE_DATABASE_URL": db_url}
    ins = with_key("185012A123456")  # Corsica
    code, out = invoke(
        runner, env, "add", "--ins", ins, "--family", "Dupont", "--given", "Élodie",
        "--birth-date", "1985-07-14", "--email", "elodie@perso.example",
    )
    assert code == 0, out
    assert f"created {ins.lower()}@patient.mssante.localhost" in out
    assert re.search(r"activation code: [0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}", out)

    code, out = invoke(runner, env, "list")
    assert code == 0
    assert f"{ins}\t{ins.lower()}@patient.mssante.localhost\tcreated\tnot-enrolled\tDupont\tÉlodie" in out

    code, out = invoke(runner, env, "close", "--ins", ins)
    assert code == 1
    assert "pas encore activé" in out

    code, out = invoke(
        runner, env, "add", "--ins", ins[:13] + "00", "--family", "X", "--given", "Y",
        "--birth-date", "1985-07-14", "--email", "x@perso.example",
    )
    assert code == 1 and "clé" in out

    code, out = invoke(
        runner, env, "add", "--ins", ins, "--family", "X", "--given", "Y",
        "--birth-date", "1985-07-14", "--email", "x@perso.example",
    )
    assert code == 1 and "existe déjà" in out

    code, out = invoke(runner, env, "reopen", "--ins", ins)
    assert code == 1 and "pas fermé" in out
    code, out = invoke(runner, env, "close", "--ins", with_key("1850775999999"))
    assert code == 1 and "Aucun espace" in out


def test_close_and_reopen_an_active_space(db_url: str, tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"MSSANTE_DATA_DIR": str(tmp_path), "MSSANTE_DATABASE_URL": db_url}
    ins = with_key("2690599350029")
    code, out = invoke(
        runner, env, "add", "--ins", ins, "--family", "Martin", "--given", "Paul",
        "--birth-date", "1969-05-01", "--email", "paul@perso.example",
    )
    assert code == 0, out
    # make it active the way the web does (activation), here through the lifecycle directly
    async def activate() -> None:
        database = Database(db_url)
        try:
            async with database.write() as session:
                await change_state(session, ins, Event.ACTIVATE, utcnow())
        finally:
            await database.dispose()

    asyncio.run(activate())
    code, out = invoke(runner, env, "close", "--ins", ins)
    assert code == 0 and out.strip().endswith("is closed")
    code, out = invoke(runner, env, "list")
    assert "\tclosed\t" in out
    code, out = invoke(runner, env, "reopen", "--ins", ins)
    assert code == 0 and out.strip().endswith("is active")
