"""What ``coalwatch`` says about itself: the version, every option's help and default,
the configuration in the top-level help, and clean help pages."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from coalwatch import __version__
from coalwatch.cli import build_parser, main

COALWATCH = Path(sys.executable).with_name("coalwatch")


def _run(
    *args: str, stdin: str | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COALWATCH_")}
    return subprocess.run(
        [str(COALWATCH), *args],
        cwd=cwd,
        env=env,
        input=stdin,
        stdin=None if stdin is not None else subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _commands(
    parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    """Every parser of the command tree, with the words that reach it."""
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _commands(sub, (*path, name))


def test_version_prints_the_version() -> None:
    done = _run("--version")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"coalwatch {__version__}"


def test_every_option_has_help_and_its_default_is_shown() -> None:
    missing, undefaulted = [], []
    for path, parser in _commands(build_parser()):
        text = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._VersionAction):
                continue
            if isinstance(action, argparse._SubParsersAction):
                continue
            where = " ".join((*path, *(action.option_strings or [action.dest])))
            if not action.help:
                missing.append(where)
            # a flag is off unless given, and None is "not given": neither is a default
            shown = f"default: {action.default}" in " ".join(text.split())
            if action.default not in (None, False, argparse.SUPPRESS) and not shown:
                undefaulted.append(where)
    assert missing == [], f"options without help: {missing}"
    assert undefaulted == [], f"defaults not shown: {undefaulted}"


def test_top_level_help_names_the_configuration() -> None:
    done = _run("--help")
    assert done.returncode == 0
    text = done.stdout
    for needed in (
        "COALWATCH_DATABASE_URL",
        "var/coalwatch.db",
        "postgresql+psycopg://",
        "COALWATCH_TIMEZONE",
        "Asia/Shanghai",
        "COALWATCH_SECRET_KEY",
        "COALWATCH_CONFIG",
        "TOML",
    ):
        assert needed in text, needed


def test_sim_run_help_is_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["sim", "run", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    assert "``" not in text and ":ref:" not in text, text
    assert "The ``handler``" not in text
    for command in ("state", "freeze", "quit", "help"):
        assert command in text


def test_admin_create_help_says_what_happens_without_password_stdin(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["admin", "create", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--password-stdin" in text
    assert "terminal" in text and "asked" in text, text


def test_serve_and_demo_help_show_defaults(capsys: pytest.CaptureFixture[str]) -> None:
    for command in ("serve", "demo"):
        with pytest.raises(SystemExit):
            main([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert "default: 127.0.0.1" in text and "default: 8000" in text, text
    with pytest.raises(SystemExit):
        main(["demo", "--help"])
    assert "default: 3" in capsys.readouterr().out


def test_admin_create_without_a_password_and_no_terminal_fails_clearly() -> None:
    done = _run("admin", "create", "--username", "chief")
    assert done.returncode == 1
    assert "--password-stdin" in done.stderr and "terminal" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_unknown_command_and_bad_option_value_exit_non_zero_without_traceback(
    tmp_path: Path,
) -> None:
    for args in (
        ("nonsense",),
        ("serve", "--port", "eighty"),
        ("serve", "--port", "70000"),  # a TCP port is 0 to 65535
        ("demo", "--port", "-1"),
        ("sim", "run", "--belts", "-1"),
        ("sim", "run", "--time-factor", "0"),
        ("token", "revoke"),
    ):
        done = _run(*args, cwd=tmp_path)
        assert done.returncode == 2, (args, done.stdout, done.stderr)
        assert "Traceback" not in done.stderr and "error:" in done.stderr, done.stderr


def _run_with(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("COALWATCH_")}
    return subprocess.run(
        [str(COALWATCH), *args],
        env={**clean, **env},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_missing_or_broken_config_file_is_named_without_a_traceback(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.toml"
    done = _run_with({"COALWATCH_CONFIG": str(missing)}, "db", "upgrade")
    assert done.returncode == 2, done.stderr
    assert "bad configuration" in done.stderr and str(missing) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    broken = tmp_path / "center.toml"
    broken.write_text('timezone = "Asia/Shanghai\n', encoding="utf-8")  # unterminated string
    done = _run_with({"COALWATCH_CONFIG": str(broken)}, "db", "upgrade")
    assert done.returncode == 2 and str(broken) in done.stderr, done.stderr
    assert "Traceback" not in done.stderr


def test_a_bad_or_unreachable_database_is_a_message_not_a_traceback() -> None:
    for url, said in (
        ("nonsense://x", "cannot use the database"),
        # port 9 (discard) on loopback: nothing listens, the connection is refused
        ("postgresql+psycopg://nobody@127.0.0.1:9/none", "cannot use the database"),
    ):
        done = _run_with({"COALWATCH_DATABASE_URL": url}, "db", "upgrade")
        assert done.returncode == 1, (url, done.stderr)
        assert said in done.stderr and "Traceback" not in done.stderr, done.stderr
