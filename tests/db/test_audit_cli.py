"""`reviewer audit verify` and `export` from the command line, on a real log."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import create_engine, text

from reviewer.cli import main


def test_verify_passes_then_names_the_edited_event(db_url: str, tmp_path: Path, capsys) -> None:
    assert main(["demo", "--items", "3", "--max-mp", "0.3", "--db", db_url]) == 0
    capsys.readouterr()
    assert main(["audit", "verify", "--db", db_url]) == 0
    out = tmp_path / "audit.jsonl"
    assert (
        main(["audit", "export", "--since", "2000-01-01", "--out", str(out), "--db", db_url]) == 0
    )
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    chains: dict[int, list[int]] = {}
    for e in lines:
        chains.setdefault(e["chain_id"], []).append(e["seq"])
    assert chains and all(seqs == list(range(1, len(seqs) + 1)) for seqs in chains.values())
    assert {"prev_hash", "hash", "mac"} <= set(lines[0])

    engine = create_engine(db_url)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":  # an attacker with superuser rights
            conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER ALL"))
        conn.execute(
            text(
                "UPDATE audit_events SET kind = 'tampered' WHERE seq = 2"
                " AND chain_id = (SELECT max(chain_id) FROM audit_events)"
            )
        )
    engine.dispose()
    capsys.readouterr()
    assert main(["audit", "verify", "--db", db_url]) == 1
    report = capsys.readouterr().out
    assert "BROKEN (edited)" in report and "#2" in report


def test_verify_without_a_key_refuses_rather_than_inventing_one(db_url: str, capsys) -> None:
    code = None
    try:
        main(["audit", "verify", "--db", db_url])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    assert "reviewer keys import" in capsys.readouterr().err
