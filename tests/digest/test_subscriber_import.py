"""``paperfeed subscribers import`` keeps every good row whatever the bad ones hold, and
``subscribers list`` output runs no formula when opened in a spreadsheet."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from paperfeed.cli import cli
from paperfeed.digest import subscriptions as subs
from paperfeed.store.db import Database
from tests.digest.conftest import SmtpSink


def emails(db: Database) -> set[str]:
    return {s.email for s in subs.list_all(db)}


def test_import_reports_bad_bytes_big_fields_and_nul_and_keeps_the_rest(
    digest_db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    csv_file = tmp_path / "list.csv"
    csv_file.write_bytes(
        b"\xef\xbb\xbfemail,period,topics\n"
        b"amy@example.org,daily,cat:cs.CL\n"
        b"bob@example.org,daily,caf\xe9\n"  # Latin-1, not UTF-8
        b"cy@example.org,weekly," + b"x" * 200_000 + b"\n"  # over csv's 128 KB field limit
        b"dee@example.org,daily,to\x00pic\n"
        b"eve@example.org,weekly,\n"
    )
    r = CliRunner().invoke(cli, ["subscribers", "import", str(csv_file), "--confirmed"])
    assert r.exit_code == 3, r.output
    assert r.stderr.splitlines() == [
        f"{csv_file}:3: not valid UTF-8",
        f"{csv_file}:4: unreadable row (field larger than field limit (131072))",
        f"{csv_file}:5: contains a NUL character",
    ]
    assert r.stdout.strip() == "imported 2 (confirmed (consent given elsewhere)), rejected 3"
    assert emails(digest_db) == {"amy@example.org", "eve@example.org"}


def test_list_neutralises_formulas(
    digest_db: Database, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    csv_file = tmp_path / "list.csv"
    csv_file.write_text(
        "fay@example.org,daily,=HYPERLINK(\"http://x.example\")\n"
        "gil@example.org,daily,+1+2;@SUM(A1)\n"
        "hal@example.org,daily,-2+3\n"
        "ian@example.org,daily,@SUM(A1)\n"
        "jan@example.org,daily,cat:cs.CL\n"
    )  # fmt: skip
    r = CliRunner().invoke(cli, ["subscribers", "import", str(csv_file), "--confirmed"])
    assert r.exit_code == 0, r.output
    listing = CliRunner().invoke(cli, ["subscribers", "list"]).stdout.splitlines()
    topics = {line.split("\t")[0]: line.split("\t")[3] for line in listing}
    assert topics == {
        "fay@example.org": '\'=HYPERLINK("http://x.example")',
        "gil@example.org": "'+1+2;@SUM(A1)",
        "hal@example.org": "'-2+3",
        "ian@example.org": "'@SUM(A1)",
        "jan@example.org": "cat:cs.CL",
    }
    for line in listing:
        assert not any(cell.startswith(("=", "+", "@")) for cell in line.split("\t")), line


def test_spreadsheet_cell() -> None:
    from paperfeed.cli.subscribers import spreadsheet_cell

    assert spreadsheet_cell("=1+1") == "'=1+1"
    assert spreadsheet_cell("\t=1") == "'\t=1"
    assert spreadsheet_cell("\r=1") == "'\r=1"
    assert spreadsheet_cell("-") == "-"  # the command's own "none"
    assert spreadsheet_cell("ann@example.org") == "ann@example.org"
