"""``coalwatch station run | keygen | status | probe``: the station 主站 from the command line.

Handlers take ``(args, settings)`` like the center's commands, and ignore the
center's settings: the station reads its own TOML file.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coalwatch.station.config import ConfigError, load_config
from coalwatch.wire.signing import generate_private_key, private_key_pem, public_key_b64


def _fail(message: str) -> SystemExit:
    print(f"coalwatch: {message}", file=sys.stderr)
    return SystemExit(1)


def cmd_run(args: argparse.Namespace, settings: object) -> None:
    from coalwatch.station.agent import run_station

    try:
        asyncio.run(run_station(args.config))
    except (ConfigError, ValueError) as exc:
        raise _fail(str(exc)) from exc


def cmd_keygen(args: argparse.Namespace, settings: object) -> None:
    path: Path = args.key_file
    key = generate_private_key()
    try:
        # O_EXCL: never overwrite a key the center already knows
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _fail(f"{path} exists; not overwritten (a station keeps its key)") from None
    except OSError as exc:
        raise _fail(f"cannot create {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "wb") as handle:
        handle.write(private_key_pem(key))
        handle.flush()
        os.fsync(handle.fileno())
    print(f"private key written to {path} (mode 0600)")
    print("register this public key at the center (POST /api/v1/mines/{mine}/stations):")
    print(public_key_b64(key))


def status_lines(config_path: Path, now: datetime | None = None) -> list[str]:
    """What ``station status`` prints: the outbox as it is on disk."""
    from coalwatch.station.agent import POLL_INTERVAL_KEY, resolve
    from coalwatch.station.outbox import Outbox

    config, _ = load_config(config_path)
    path = resolve(config_path.parent, config.station.outbox)
    lines = [f"station {config.station.code}", f"outbox {path}"]
    if not path.exists():
        return [*lines, "no outbox yet: the station has not run"]
    outbox = Outbox(path, repair=False)  # the agent, not a reader, moves a corrupt file
    try:
        stats = outbox.stats()
        interval: Any = outbox.state(POLL_INTERVAL_KEY)
    finally:
        outbox.close()
    age = stats.oldest_age_s(now or datetime.now(UTC))
    return [
        *lines,
        f"records waiting: {stats.records} ({stats.file_bytes} bytes on disk)",
        "oldest unsent record: "
        + ("none" if stats.oldest_ts is None else f"{stats.oldest_ts.isoformat()} ({age:.0f} s)"),
        f"last seq: {stats.last_seq}",
        f"last acked: {stats.acked_seq}",
        f"poll interval: {interval or config.station.poll_interval_s:g} s"
        + (" (set by the center)" if interval else ""),
    ]


def cmd_status(args: argparse.Namespace, settings: object) -> None:
    try:
        lines = status_lines(args.config)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    print("\n".join(lines))


def cmd_probe(args: argparse.Namespace, settings: object) -> None:
    import logging

    from coalwatch.station.probe import OK, run_probe

    logging.getLogger("pymodbus").setLevel(logging.CRITICAL)
    if args.interval < 0:
        raise _fail("--interval must not be negative")
    try:
        report = run_probe(args.config, args.interval, args.parameters)
    except ConfigError as exc:
        raise _fail(str(exc)) from exc
    print("\n".join(report.lines))
    if report.exit_code != OK:
        if report.unreachable:
            print(
                f"coalwatch: cannot reach {len(report.unreachable)} devices: "
                + "; ".join(report.unreachable),
                file=sys.stderr,
            )
        raise SystemExit(report.exit_code)


def add_parser(commands: Any) -> None:
    """Add ``station`` and its actions to the ``coalwatch`` command's subparsers."""
    station = commands.add_parser("station", help="the mine-side station agent (主站)")
    actions = station.add_subparsers(dest="station_command", required=True, metavar="ACTION")

    run = actions.add_parser("run", help="poll the instruments and forward to the center")
    run.add_argument("--config", required=True, type=Path, help="the station's TOML file")
    run.set_defaults(handler=cmd_run)

    keygen = actions.add_parser(
        "keygen", help="create the station's Ed25519 key; print the public key on the last line"
    )
    keygen.add_argument(
        "--key-file",
        type=Path,
        default=Path("station.key"),
        help="where to write the private key (mode 0600; an existing file is not overwritten)",
    )
    keygen.set_defaults(handler=cmd_keygen)

    status = actions.add_parser("status", help="outbox size and age, last seq, last acked")
    status.add_argument("--config", required=True, type=Path, help="the station's TOML file")
    status.set_defaults(handler=cmd_status)

    probe = actions.add_parser(
        "probe",
        help="commissioning: read every mapped register once; print raw words, the value "
        "in every word order, and what is implausible; writes nothing",
    )
    probe.add_argument("--config", required=True, type=Path, help="the station's TOML file")
    probe.add_argument(
        "--interval",
        type=float,
        default=3.0,
        help="seconds between the two readings of a totalizer compared with the rate "
        "(0: one reading, no comparison)",
    )
    probe.add_argument(
        "--parameters",
        action="store_true",
        help="also read the calibration parameters behind a device's read handshake (BW500); "
        "its request words are then the only writes",
    )
    probe.set_defaults(handler=cmd_probe)
