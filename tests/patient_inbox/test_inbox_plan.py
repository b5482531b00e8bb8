"""EXPLAIN of the inbox page query on both engines: the patient's rows are found through the index that matches
the ORDER BY, never by scanning the table; earlier pages are skipped inside the index."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, text

from patient_inbox.conversations import _PAGE, _PAGE_DEFERRED, inbox_page
from patient_inbox.models import Conversation, PatientAccount
from storage.engine import Database

INDEX = "ix_patient_conversations_patient_last"
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


async def seed(database: Database, conversations: int, patients: int = 2) -> list[int]:
    ids = []
    async with database.write() as session:
        for n in range(patients):
            account = PatientAccount(
                ins=f"18507751234{n:04d}", address=f"p{n}@patient.example", family_name="Dupont",
                given_names="Élodie", birth_date=date(1985, 7, 14), email="e@example.org", state="active",
                created_at=NOW, state_changed_at=NOW, failed_logins=0,
            )
            session.add(account)
            await session.flush()
            ids.append(account.id)
        await session.execute(insert(Conversation), [
            {"patient_id": ids[c % patients], "token": f"t{c}", "subject": f"Sujet {c}", "state": "open",
             "created_at": NOW, "last_message_at": NOW - timedelta(minutes=c % 700), "unread": c % 3,
             "last_author": "Dr Martin", "last_author_profession": None}
            for c in range(conversations)
        ])  # fmt: skip
    return ids


async def test_the_inbox_page_is_an_index_range_scan(database: Database) -> None:
    ids = await seed(database, 20_000, patients=200)  # each patient a small part of the table, as in real life
    statement = (_PAGE_DEFERRED if database.sqlite else _PAGE).params(patient_id=ids[0], limit=20, offset=40)
    sql = str(statement.compile(dialect=database.engine.dialect, compile_kwargs={"literal_binds": True}))
    async with database.engine.connect() as connection:
        if database.sqlite:
            plan = " | ".join(str(row[-1]) for row in await connection.execute(text("EXPLAIN QUERY PLAN " + sql)))
            # the page's ids and the total from the index alone, then the page's 20 rows by primary key
            assert plan.count(f"SEARCH patient_conversations USING COVERING INDEX {INDEX}") == 2, plan
            assert "SEARCH patient_conversations USING INTEGER PRIMARY KEY" in plan, plan
            assert "SCAN patient_conversations" not in plan, plan
        else:
            autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
            await autocommit.execute(text("VACUUM ANALYZE patient_conversations"))  # what autovacuum does
            plan = " | ".join(row[0] for row in await connection.execute(text("EXPLAIN " + sql)))
            # the page and the total (with 100 rows a patient, the planner may sort them rather than walk the
            # index backwards: both cheap; what must never happen is reading the whole table)
            assert plan.count(f"on {INDEX}") + plan.count(f"using {INDEX}") == 2, plan
            assert "Seq Scan" not in plan, plan


async def test_the_page_shows_this_patients_conversations_newest_first(database: Database) -> None:
    ids = await seed(database, 300)
    page = await inbox_page(database, ids[1], 2, per_page=20)
    assert page.total == 150 and page.pages == 8 and page.page == 2 and len(page.entries) == 20
    async with database.read() as session:
        mine = (
            await session.execute(
                text(
                    "SELECT id FROM patient_conversations WHERE patient_id = :p "
                    "ORDER BY last_message_at DESC, id DESC LIMIT 20 OFFSET 20"
                ),
                {"p": ids[1]},
            )
        ).scalars().all()
    assert [entry.id for entry in page.entries] == list(mine)
    last = await inbox_page(database, ids[1], 99, per_page=20)  # past the end: the last page
    assert last.page == 8 and len(last.entries) == 10
