"""``coalwatch sim run``: simulated instruments on loopback, driven from standard input."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal, InvalidOperation
from pathlib import Path
from types import FrameType
from typing import Any, TextIO

from coalwatch.clitypes import count, port, positive
from coalwatch.sim.simset import BeltSpec, SimSet, TripSpec

#: what ``sim run --help`` and the ``help`` command say (plain text: it is printed as is)
USAGE = """\
Serve simulated weighing instruments (Modbus TCP on loopback): belt scales B1, B2, ...
and trip scales K1, K2, ... It prints each instrument's address, writes a station
config that polls them (--config-out), then reads commands from standard input,
one a line:

  B1 door_open          inject a fault (the list: help); arguments as B1 error 5
                        or B1 error code=5
  state B1              an instrument's true state (state alone: all of them)
  endpoints             every instrument's address again
  freeze | unfreeze     stop / resume all production
  help                  this text and the faults of each instrument
  quit                  stop; so do Ctrl-C and SIGTERM. At the end of standard input
                        (started in the background) it keeps serving until a signal.
"""

#: positional arguments of the faults that take some
_POSITIONAL = {
    "error": ("code",),
    "parameter_change": ("index", "value"),
    "restart": ("total_t",),
}


def add_parser(subparsers: Any) -> None:
    """Add ``sim run`` to the ``coalwatch`` command."""
    sim = subparsers.add_parser("sim", help="simulated instruments (Modbus TCP on loopback)")
    actions = sim.add_subparsers(dest="sim_command", required=True, metavar="ACTION")
    run = actions.add_parser(
        "run",
        help="serve simulated instruments; faults from standard input",
        description=USAGE,
    )
    run.add_argument("--belts", type=count, default=1, help="belt-scale points B1, B2, ...")
    run.add_argument("--trips", type=count, default=1, help="trip-scale points K1, K2, ...")
    run.add_argument(
        "--map",
        choices=("bw500", "intecont"),
        default="bw500",
        help="the belt scales' register map",
    )
    run.add_argument("--time-factor", type=positive, default=1.0, help="simulated s per real s")
    run.add_argument("--rate", type=positive, default=600.0, help="nominal belt rate, t/h")
    run.add_argument("--trip-interval", type=positive, default=120.0, help="simulated s per trip")
    run.add_argument(
        "--seed", type=int, default=1, help="random seed: the same seed, the same production"
    )
    run.add_argument("--start-hour", type=float, help="simulated time of day at start (hours); "
                     "default: the real time of day in Asia/Shanghai")  # fmt: skip
    run.add_argument("--host", default="127.0.0.1", help="address the simulators listen on")
    run.add_argument(
        "--base-port", type=port, default=0, help="first port, the next ones follow (0: free ports)"
    )
    run.add_argument("--station", default="SIM1", help="station code in the written config")
    run.add_argument(
        "--center",
        action="append",
        help="center URL in the written config, repeatable (default: http://127.0.0.1:8000)",
    )
    run.add_argument(
        "--config-out",
        type=Path,
        default=Path("var/sim-station.toml"),
        help="where to write the station config (its key and outbox go beside it)",
    )
    run.set_defaults(handler=cmd_sim)


def cmd_sim(args: argparse.Namespace, settings: object = None) -> None:
    """The ``handler`` of ``coalwatch sim run``."""
    run_sim(args, sys.stdin, sys.stdout)


def build_simset(args: argparse.Namespace) -> SimSet:
    belts = [
        BeltSpec(
            code=f"B{i + 1}",
            map=args.map,
            rate_tph=args.rate,
            time_factor=args.time_factor,
            seed=args.seed + i,
            clock_start_h=args.start_hour,
        )
        for i in range(args.belts)
    ]
    trips = [
        TripSpec(
            code=f"K{i + 1}",
            interval_s=args.trip_interval,
            time_factor=args.time_factor,
            seed=args.seed + 100 + i,
            clock_start_h=args.start_hour,
        )
        for i in range(args.trips)
    ]
    return SimSet(belts=belts, trips=trips, io=True, host=args.host, base_port=args.base_port)


def _fault_params(fault: str, words: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    names = _POSITIONAL.get(fault, ())
    for i, word in enumerate(words):
        name, sep, text = word.partition("=")
        if not sep:
            if i >= len(names):
                raise ValueError(f"{fault} takes at most {len(names)} arguments")
            name, text = names[i], word
        if name == "name":
            params[name] = text  # a handshake parameter's name (e.g. span)
            continue
        try:
            params[name] = Decimal(text)
        except InvalidOperation:
            raise ValueError(f"{name}={text!r} is not a number") from None
    return params


def _text(value: Any) -> str:
    if isinstance(value, list):
        shown = [_text(v) for v in value[-10:]]
        more = [f"...{len(value) - 10} more before"] if len(value) > 10 else []
        return "[" + ", ".join(more + shown) + "]"
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def _show(key: str, state: dict[str, Any]) -> str:
    return f"{key}: " + " ".join(f"{name}={_text(value)}" for name, value in state.items())


def handle_line(sims: SimSet, line: str) -> tuple[bool, str]:
    """Do one command; (whether to go on, what to print)."""
    words = line.split()
    if not words:
        return True, ""
    head, rest = words[0], words[1:]
    if head in ("quit", "exit"):
        return False, "stopping"
    if head == "help":
        lines = [f"{key}: {', '.join(sims.faults(key))}" for key in sims.keys]
        return True, "\n".join([USAGE, "faults per instrument:", *lines])
    if head == "endpoints":
        return True, "\n".join(f"{k} {h}:{p}" for k, (h, p) in sims.endpoints.items())
    if head in ("freeze", "unfreeze"):
        (sims.freeze if head == "freeze" else sims.unfreeze)()
        return True, head + ": done"
    if head == "state":
        keys = rest or sims.keys
        return True, "\n".join(_show(key, sims.state(key)) for key in keys)
    if not rest:
        return True, f"unknown command {head!r}; try help"
    fault = rest[0]
    sims.inject(head, fault, **_fault_params(fault, rest[1:]))
    return True, f"{head} {fault}: done"


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM stops the simulators as cleanly as Ctrl-C (main thread only)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_sim(args: argparse.Namespace, stdin: TextIO, stdout: TextIO) -> None:
    """Serve until ``quit``, Ctrl-C or SIGTERM; always stops every server."""
    sims = build_simset(args)
    with _sigterm_as_interrupt():
        try:
            sims.start()
            config = args.config_out.resolve()
            config.parent.mkdir(parents=True, exist_ok=True)
            var = config.parent
            config.write_text(
                sims.station_config(
                    args.station,
                    key_file=var / f"station-{args.station}.key",
                    centers=args.center or ["http://127.0.0.1:8000"],
                    outbox=var / f"station-{args.station}.db",
                )
            )
            for key, (host, port) in sims.endpoints.items():
                print(f"{key} modbus tcp {host}:{port} unit 1", file=stdout)
            print(f"station config: {config}", file=stdout)
            print("ready; commands on standard input (help, state, quit)", file=stdout)
            stdout.flush()
            for line in stdin:
                try:
                    go_on, reply = handle_line(sims, line)
                except (ValueError, KeyError, IndexError) as exc:
                    go_on, reply = True, f"error: {exc}"
                if reply:
                    print(reply, file=stdout)
                    stdout.flush()
                if not go_on:
                    return
            # no more input (e.g. started in the background): serve until a signal
            threading.Event().wait()
        except KeyboardInterrupt:
            print("interrupted: stopping", file=stdout)
        finally:
            sims.stop()


def main(argv: list[str] | None = None) -> int:
    """``python -m coalwatch.sim.cli run ...`` before the command is wired into ``coalwatch``."""
    parser = argparse.ArgumentParser(prog="coalwatch")
    add_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    args.handler(args, None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
