"""`reviewer hashlist import|list|export|flags` and hashing at `reviewer ingest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hash_helpers import set_grades_needed

from db.store import Store
from reviewer import synthetic
from reviewer.cli import main
from reviewer.grading import Grading
from reviewer.hashing import compute_hashes
from reviewer.model import Exposure
from reviewer.vocabulary import AgeBand, AgeConfidence, ProductionContext, Severity


def test_import_ingest_match_export(db_url: str, tmp_path: Path, capsys) -> None:
    img = synthetic.make_image(640, 480, 77)
    original = synthetic.encode(img, "JPEG", 90)
    (tmp_path / "up.jpg").write_bytes(synthetic.encode(img.convert("L"), "JPEG", 70))
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"media": "up.jpg", "source": "user_report"}) + "\n")
    pdq = compute_hashes(original).pdq_hex
    lst = tmp_path / "ngo.csv"
    lst.write_text(
        "hash_type,value,source,category,age_band\n"
        f"pdq,{pdq},Hotline,B,11-13\n"
        "md5,nothex,Hotline,,\n"
    )
    argv = ["hashlist", "import", str(lst), "--name", "ngo", "--source", "Hotline", "--db", db_url]
    assert main(argv) == 1  # one row malformed: the list is refused whole
    err = capsys.readouterr().err
    assert "ngo.csv refused; nothing imported" in err
    assert "line 3: value is not hexadecimal" in err
    assert main(["hashlist", "list", "--db", db_url]) == 0
    assert "no hash lists imported" in capsys.readouterr().out
    lst.write_text(f"hash_type,value,source,category,age_band\npdq,{pdq},Hotline,B,11-13\n")
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "imported ngo version 1 from Hotline: 1 hash(es)" in out
    assert main(["ingest", str(manifest), "--db", db_url]) == 0
    capsys.readouterr()

    store = Store.open(db_url)
    try:
        repo = store.hashes
        ((item_id, hashes),) = repo.pending_item_hashes()
        assert hashes.pdq is not None
        (match,) = repo.known_matches(item_id)
        assert match.kind == "pdq" and match.hash_list.source_org == "Hotline"
    finally:
        store.close()

    assert (
        main(
            [
                "hashlist",
                "import",
                str(lst),
                "--name",
                "ngo",
                "--source",
                "Hotline 2",
                "--db",
                db_url,
            ]
        )
        == 0
    )
    assert "version 2" in capsys.readouterr().out
    assert main(["hashlist", "list", "--db", db_url]) == 0
    listing = capsys.readouterr().out
    assert "ngo v1 [superseded] Hotline:" in listing and "ngo v2 [active] Hotline 2:" in listing

    out_file = tmp_path / "export.jsonl"
    assert (
        main(["hashlist", "export", "--format", "jsonl", "--out", str(out_file), "--db", db_url])
        == 0
    )
    assert "wrote 0 row(s)" in capsys.readouterr().out  # nothing confirmed yet
    assert out_file.read_text() == ""  # JSON Lines: no rows, no header
    # Never overwrites.
    assert (
        main(["hashlist", "export", "--format", "csv", "--out", str(out_file), "--db", db_url]) == 2
    )
    assert main(["hashlist", "flags", "--db", db_url]) == 0
    assert "no near-duplicate groups flagged" in capsys.readouterr().out


def test_import_of_a_file_with_no_valid_row_changes_nothing(
    db_url: str, tmp_path: Path, capsys
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("nonsense\n")
    assert (
        main(["hashlist", "import", str(bad), "--name", "x", "--source", "Y", "--db", db_url]) == 1
    )
    assert "line 1: header lacks column(s)" in capsys.readouterr().err
    assert (
        main(
            [
                "hashlist",
                "import",
                str(tmp_path / "missing.csv"),
                "--name",
                "x",
                "--source",
                "Y",
                "--db",
                db_url,
            ]
        )
        == 2
    )


@pytest.mark.parametrize("argv", [["hashlist"], ["hashlist", "export", "--format", "xml"]])
def test_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2


def test_vics_import_match_export_round_trip(
    db_url: str, tmp_path: Path, capsys, monkeypatch
) -> None:
    """A CAID-style VICS list in; an upload whose MD5 is on it matched at ingest; our
    confirmed item out as VICS, read back by the same importer."""
    listed = synthetic.encode(synthetic.make_image(400, 300, 5), "JPEG")
    mine = synthetic.encode(synthetic.make_image(400, 300, 6), "JPEG")
    (tmp_path / "up.jpg").write_bytes(listed)
    (tmp_path / "mine.jpg").write_bytes(mine)
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(
        "".join(
            json.dumps({"media": n, "source": "user_report"}) + "\n" for n in ("up.jpg", "mine.jpg")
        )
    )
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"
    vics = tmp_path / "caid.json"
    md5 = compute_hashes(listed).md5.upper()
    vics.write_text(
        json.dumps(
            {
                "@odata.context": context,
                "value": [{"MediaID": 7, "Category": 2, "MD5": md5, "IsPrecategorized": "true"}],
            }
        )
    )
    args = ["--name", "caid", "--source", "CAID", "--db", db_url]
    assert main(["hashlist", "import", str(vics), *args]) == 0
    assert "imported caid version 1 from CAID: 1 hash(es)" in capsys.readouterr().out
    assert main(["ingest", str(manifest), "--db", db_url]) == 0
    capsys.readouterr()
    store = Store.open(db_url)
    try:
        repo = store.hashes
        by_md5 = {h.md5: i for i, h in repo.pending_item_hashes()}
        (match,) = repo.known_matches(by_md5[md5.lower()])
        assert (match.kind, match.category) == ("exact", Severity.B)
        user = store.accounts.ensure_user("mod")
        graded = Grading(
            severity=Severity.C,
            age_band=AgeBand.B11_13,
            age_confidence=AgeConfidence.PROBABLE,
            production_context=ProductionContext.UNKNOWN,
        )
        while (claim := store.claims.claim_next(user.id)) is not None:
            store.claims.submit_decision(claim, graded, Exposure(), str(claim.claim_id))
    finally:
        store.close()

    held = tmp_path / "held.json"
    assert main(["hashlist", "export", "--format", "vics", "--out", str(held), "--db", db_url]) == 0
    out_text = capsys.readouterr().out
    assert "wrote 0 row(s) for 0 confirmed item(s)" in out_text
    assert "(each with at least 2 agreeing independent grade(s))" in out_text
    assert "held back 2 Category A/B/C item(s) until graders agree:" in out_text
    assert "(C): 1 of 2 independent grades agree" in out_text
    assert json.loads(held.read_text())["value"] == []

    store = Store.open(db_url)
    try:  # one grade is enough from here (the consensus tests test the bar itself)
        set_grades_needed(store, 1)
    finally:
        store.close()
    out = tmp_path / "ours.json"
    assert main(["hashlist", "export", "--format", "vics", "--out", str(out), "--db", db_url]) == 0
    assert "wrote 2 row(s) for 2 confirmed item(s)" in capsys.readouterr().out
    written = json.loads(out.read_text())
    assert written["@odata.context"] == context
    assert {(m["MD5"], m["Category"]) for m in written["value"]} == {
        (md5, 3),
        (compute_hashes(mine).md5.upper(), 3),
    }
    assert (
        main(["hashlist", "import", str(out), "--name", "back", "--source", "Us", "--db", db_url])
        == 0
    )


def test_malformed_vics_is_refused_by_entry_and_changes_nothing(
    db_url: str, tmp_path: Path, capsys
) -> None:
    context = "http://github.com/VICSDATAMODEL/ProjectVic/DataModels/2.0.xml/UK/$metadata#Media"
    good = {"MediaID": 1, "Category": 1, "MD5": "A" * 32}
    vics = tmp_path / "caid.json"
    vics.write_text(json.dumps({"@odata.context": context, "value": [good]}))
    args = ["--name", "caid", "--source", "CAID", "--db", db_url]
    assert main(["hashlist", "import", str(vics), *args]) == 0
    capsys.readouterr()
    bad = [
        good | {"MD5": "B" * 32},
        {"MediaID": 2, "Category": 9, "MD5": "C" * 32},
        {"Category": 1},
    ]
    vics.write_text(json.dumps({"@odata.context": context, "value": bad}))
    assert main(["hashlist", "import", str(vics), *args]) == 1
    err = capsys.readouterr().err
    assert "caid.json refused; nothing imported" in err
    assert "entry 2: Category 9 is not in the category table 'CAID (UK)'" in err
    assert "entry 3: no MD5" in err
    vics.write_text('{"@odata.context": "' + context + '",\n "value": [\n  {"MD5": ]}')
    assert main(["hashlist", "import", str(vics), "--format", "vics", *args]) == 1
    assert "line 3: not valid JSON" in capsys.readouterr().err
    # A category table of our own: unknown file, and a malformed one, are usage errors.
    assert main(["hashlist", "import", str(vics), "--categories", "nope", *args]) == 2
    table = tmp_path / "t.json"
    table.write_text('{"categories": {"1": "Z"}}')
    assert main(["hashlist", "import", str(vics), "--categories", str(table), *args]) == 2
    capsys.readouterr()
    assert main(["hashlist", "list", "--db", db_url]) == 0
    listing = capsys.readouterr().out
    assert "caid v1 [active] CAID: 1 hashes" in listing and "v2" not in listing
    store = Store.open(db_url)
    try:
        assert {e.value for e in store.hashes.active_entries()} == {"a" * 32}
    finally:
        store.close()
