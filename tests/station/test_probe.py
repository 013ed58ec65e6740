"""``coalwatch station probe``: the commissioning check, against the simulators over real
Modbus TCP on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from coalwatch.cli import main
from coalwatch.sim import BeltSpec, Schedule, SimSet, TripSpec
from coalwatch.station.config import load_map

HERE = Path(__file__).parent
BW500 = load_map("bw500", HERE)


@pytest.fixture
def sims() -> Iterator[SimSet]:
    # real time, a steady 600 t/h: 0.1667 t a second, as the rate register says
    belt = BeltSpec(
        code="B1",
        rate_tph=600,
        start_t=Decimal("125432.750"),
        noise=0,
        schedule=Schedule(stop_min=0),
    )
    with SimSet(belts=[belt], trips=[TripSpec(code="K1", start_count=412)]) as s:
        yield s


def write_config(tmp_path: Path, host: str, port: int, belts: dict[str, str]) -> None:
    """station.toml: one TCP bus, a belt point per (code, map) on it."""
    points = "".join(
        f'[[points]]\ncode = "{code}"\nkind = "belt"\n'
        f'[[points.devices]]\nbus = "scale"\nmap = "{name}"\n'
        for code, name in belts.items()
    )
    (tmp_path / "station.toml").write_text(
        '[station]\ncode = "S1"\nkey_file = "station.key"\ncenters = ["http://127.0.0.1:9"]\n'
        f'[buses.scale]\nkind = "tcp"\nhost = "{host}"\nport = {port}\ntimeout_s = 0.3\n' + points
    )


def probe(path: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str, str]:
    try:
        code = main(["station", "probe", "--config", str(path), *extra])
    except SystemExit as exc:
        code = int(exc.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


def _tonnes(kg: int) -> str:
    """Kilograms in tonnes as the probe prints a value: no trailing zeros (125432.75)."""
    return f"{Decimal(kg).scaleb(-3).normalize():f}"


def test_probe_prints_raw_words_and_every_order_and_writes_only_the_handshake(
    tmp_path: Path, sims: SimSet, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "station.toml"
    path.write_text(sims.station_config("S1", "station.key", ["http://127.0.0.1:9"], "o.db"))
    sims.freeze()
    state = sims.state("B1")
    code, out, _ = probe(path, capsys, "--interval", "0")
    assert code == 0, out
    assert "devices; nothing is written\n" in out + "\n"
    assert "not read (--parameters reads them" in out
    assert sims.state("B1")["writes"] == [] and sims.state("K1")["writes"] == []
    code, out, _ = probe(path, capsys, "--interval", "0", "--parameters")
    assert code == 0, out
    assert "nothing is written except the request words of a read handshake" in out
    # the total as the display shows it, and its two words, high word first
    total_kg = state["total_kg"]
    high, low = divmod(total_kg, 65536)
    assert f"words {high:04X} {low:04X}  ({high} {low})" in out
    assert f"as configured (ABCD, 3 decimals): {_tonnes(total_kg)} t" in out
    # the same words read low word first: (low × 65536 + high) / 1000
    assert f"CDAB {_tonnes(low * 65536 + high)}" in out
    assert "word-order format word: holding 40062 (protocol 61) = 0 (ABCD)" in out
    assert "P016.1 belt_length: request [16, 1, 0, 768]" in out and "→ 84.500" in out
    assert "trip_counter: holding 100 (protocol 100), uint32, words 0000 019C  (0 412)" in out
    assert "door_open: discrete 1 (protocol 1), raw 1, inverted → False" in out
    assert "every value read and plausible" in out
    # five handshake requests, nothing else written
    assert {(a, len(w)) for a, w in sims.state("B1")["writes"]} == {(89, 4)}
    assert sims.state("K1")["writes"] == []


def test_probe_flags_a_map_with_the_wrong_word_order(
    tmp_path: Path, sims: SimSet, capsys: pytest.CaptureFixture[str]
) -> None:
    # B1 reads the BW500 with its totalizer as CDAB; B2 the same through a map that has no
    # format word to check: only the advance against the rate can tell
    text = (HERE.parent.parent / "src/coalwatch/station/maps/bw500.toml").read_text()
    wrong = text.replace('order = "ABCD"', 'order = "CDAB"', 1)
    assert wrong != text
    (tmp_path / "cdab.toml").write_text(wrong)
    bare = wrong.split("[word_order]")[0]
    (tmp_path / "cdab-bare.toml").write_text(bare)
    host, port = sims.endpoints["B1"]
    write_config(tmp_path, host, port, {"B1": "cdab.toml", "B2": "cdab-bare.toml"})
    code, out, _ = probe(tmp_path / "station.toml", capsys, "--interval", "1.5")
    assert code == 2, out
    assert "point B1 device 0: word order disagrees: the device's format word 40062 reads 0" in out
    # 600 t/h over 1.5 s is 0.250 t: the advance fits read high word first, not as configured
    assert "gives 0.250 t" in out
    flags = [line for line in out.splitlines() if line.startswith("  ! ")]
    assert any(
        f.startswith("  ! point B2 device 0: totalizer advance as configured (CDAB) does not fit")
        and "it fits in ABCD" in f
        for f in flags
    ), flags


def test_probe_exits_non_zero_with_a_message_when_a_device_cannot_be_reached(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_config(tmp_path, "127.0.0.1", 9, {"B1": "bw500"})  # nothing listens on port 9
    code, out, err = probe(tmp_path / "station.toml", capsys, "--interval", "0")
    assert code == 1
    assert "coalwatch: cannot reach 1 devices: point B1 device 0: bus scale" in err
    assert "cannot connect" in err and "Traceback" not in out + err
