"""`reviewer hashlist import|list|export|flags` and hashing at `reviewer ingest`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from db.hashes import HashRepo
from db.store import Store
from reviewer import synthetic
from reviewer.cli import main
from reviewer.hashing import compute_hashes


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
    assert (
        main(
            ["hashlist", "import", str(lst), "--name", "ngo", "--source", "Hotline", "--db", db_url]
        )
        == 1
    )  # one row rejected
    out = capsys.readouterr().out
    assert "imported ngo version 1 from Hotline: 1 hash(es), 1 row(s) rejected" in out
    assert "line 3: value is not hexadecimal" in out
    assert main(["ingest", str(manifest), "--db", db_url]) == 0
    capsys.readouterr()

    store = Store.open(db_url)
    try:
        repo = HashRepo(store)
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
        == 1
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
    assert "no valid rows" in capsys.readouterr().err
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
