"""The command line when something outside it is missing or down: mail still goes out
where it can, and what cannot work is one line on stderr, never a traceback."""

from __future__ import annotations

import mailbox
from pathlib import Path

import pytest
from test_cli import run

REFUSING = "postgresql+psycopg://postgres@127.0.0.1:9/nothing?connect_timeout=2"


def write_config(folder: Path, database_url: str, content: Path, maildir: Path) -> Path:
    path = folder / "config.toml"
    path.write_text(
        f'[storage]\ndatabase_url = "{database_url}"\ncontent_dir = "{content}"\n'
        f'[email]\nmaildir = "{maildir}"\nfrom = "News <news@example.org>"\n'
    )
    return path


def test_tick_and_digest_send_create_the_maildir_folders(tmp_path, database_url, blog):
    """Without `instance/` (a PostgreSQL set-up) the Maildir's parents did not exist."""
    blog.post("hello")
    maildir = tmp_path / "var" / "spool" / "mail"
    write_config(tmp_path, database_url, blog.root, maildir)
    assert run("db", "upgrade", cwd=tmp_path).returncode == 0
    assert run("import", cwd=tmp_path).returncode == 0
    added = run("subscribers", "add", "reader@example.org", "--feed", "news", cwd=tmp_path)
    assert added.returncode == 0, added.stderr

    ticked = run("tick", cwd=tmp_path)
    forced = run("digest", "send", "--force", cwd=tmp_path)

    assert ticked.returncode == 0, ticked.stderr
    assert forced.returncode == 0, forced.stderr
    assert "Traceback" not in ticked.stderr + forced.stderr
    assert "1 mails sent" in ticked.stdout
    subjects = [message["Subject"] for message in mailbox.Maildir(maildir, create=False)]
    assert len(subjects) == 1 and "onfirm" in subjects[0]


@pytest.mark.parametrize(
    "command",
    [("tick",), ("import",), ("digest", "send", "--force"), ("db", "upgrade"), ("posts", "list")],
)
def test_a_database_that_refuses_connections_is_one_line_and_nonzero(tmp_path, blog, command):
    write_config(tmp_path, REFUSING, blog.root, tmp_path / "mail")
    result = run(*command, cwd=tmp_path)
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("syndicator: database error:") and "refused" in lines[0]


def test_an_unwritable_maildir_keeps_the_mail_for_later_without_a_traceback(
    tmp_path, database_url, blog
):
    """A file where the Maildir's parent should be: the mail waits, the command says so."""
    (tmp_path / "var").write_text("not a folder")
    write_config(tmp_path, database_url, blog.root, tmp_path / "var" / "mail")
    blog.post("hello")
    assert run("db", "upgrade", cwd=tmp_path).returncode == 0
    assert run("import", cwd=tmp_path).returncode == 0
    run("subscribers", "add", "reader@example.org", "--feed", "news", cwd=tmp_path)

    ticked = run("tick", cwd=tmp_path)

    assert ticked.returncode == 0, ticked.stderr
    assert "Traceback" not in ticked.stderr
    assert "0 mails sent" in ticked.stdout
