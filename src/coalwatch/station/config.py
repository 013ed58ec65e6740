"""The station's configuration file (TOML), validated with clear errors.

```toml
[station]
code = "S1"
key_file = "station.key"              # Ed25519 private key (PEM), from `station keygen`
centers = ["http://127.0.0.1:8000"]   # tried in order; the next when one is down
# ca_file = "center-ca.pem"           # for https:// centers: the CA that signed their
                                      # certificates (default: the system's CAs)
# transport = "mqtt"                  # batches through an MQTT broker instead of HTTP
# mqtt_broker = "mqtt://127.0.0.1:1883"
poll_interval_s = 5                   # ≤ 10
outbox = "var/station-S1.db"

[buses.scale]                         # tcp | rtu | rtu_over_tcp
kind = "tcp"
host = "127.0.0.1"
port = 5020

[[points]]
code = "B1"
kind = "belt"
[[points.devices]]
bus = "scale"
unit = 1
map = "bw500"                         # a shipped map, a path to a TOML map, or inline:
# [points.devices.registers] ... (the fields of a map)
```

Relative paths (``key_file``, ``outbox``, ``ca_file``, ``config_cache``, map files) are
relative to the configuration file's directory.

With ``center_key`` (the center's public key, base64) the station takes its buses and
points from the center (``station.remote_config``); the file's own, if any, are then only
for commissioning and for a station that has never reached its center.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from coalwatch.station.registers import RegisterMap

Code = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
SHIPPED_MAPS = ("bw500", "intecont", "trip_indicator", "station_io")


class ConfigError(ValueError):
    """The configuration is unusable; the message says where and why."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StationSection(_Section):
    code: Code
    key_file: Path
    centers: Annotated[list[Annotated[str, Field(pattern=r"^https?://")]], Field(min_length=1)]
    poll_interval_s: Annotated[float, Field(gt=0, le=10)] = 5.0
    heartbeat_s: Annotated[float, Field(gt=0, le=60)] = 30.0
    outbox: Path = Path("var/station-outbox.db")
    batch_size: Annotated[int, Field(ge=1, le=500)] = 500
    #: consecutive failed polls of a device before device_fault
    fault_after: Annotated[int, Field(ge=1)] = 3
    request_timeout_s: Annotated[float, Field(gt=0)] = 10.0
    #: upload retries: the first wait, doubling (with jitter) up to the longest
    retry_first_s: Annotated[float, Field(gt=0)] = 1.0
    retry_max_s: Annotated[float, Field(gt=0)] = 60.0
    #: the CA certificate(s) (PEM) to verify https:// centers by; a private CA is usual
    #: on a mine network (default: the system's trusted CAs)
    ca_file: Path | None = None
    #: how batches travel: "http" to the centers (default), or "mqtt" through mqtt_broker
    #: (mqtt://HOST:PORT; topics <mqtt_topic_prefix>/stations/<code>/batches and /answers)
    transport: Literal["http", "mqtt"] = "http"
    mqtt_broker: Annotated[str, Field(pattern=r"^mqtts?://.+")] | None = None
    mqtt_topic_prefix: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*$")] = (
        "coalwatch"
    )

    @model_validator(mode="after")
    def _broker_for_mqtt(self) -> StationSection:
        if self.transport == "mqtt" and self.mqtt_broker is None:
            raise ValueError('transport = "mqtt" needs mqtt_broker = "mqtt://HOST:PORT"')
        return self

    @property
    def upload_targets(self) -> list[str]:
        """Where batches go: the centers, or the broker."""
        if self.transport == "mqtt" and self.mqtt_broker is not None:
            return [self.mqtt_broker]
        return list(self.centers)

    #: the center's Ed25519 public key (base64 of the raw 32 bytes): the configuration the
    #: center issues is verified with it; without it the station runs this file only
    center_key: Annotated[str, Field(min_length=40, max_length=64)] | None = None
    #: the last configuration the center issued, kept to run it when the center is away
    config_cache: Path = Path("var/station-config.json")


class TcpBus(_Section):
    kind: Literal["tcp"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 502
    timeout_s: Annotated[float, Field(gt=0)] = 1.0


class RtuOverTcpBus(_Section):
    """Modbus RTU frames through a serial server (RS-485 to Ethernet)."""

    kind: Literal["rtu_over_tcp"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)]
    timeout_s: Annotated[float, Field(gt=0)] = 1.0


class RtuBus(_Section):
    kind: Literal["rtu"]
    device: str
    baudrate: Literal[1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200] = 9600
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    timeout_s: Annotated[float, Field(gt=0)] = 1.0


Bus = Annotated[TcpBus | RtuOverTcpBus | RtuBus, Field(discriminator="kind")]


class Device(_Section):
    bus: Code
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    map: str | None = None
    registers: RegisterMap | None = None

    @model_validator(mode="after")
    def _one_map(self) -> Device:
        if (self.map is None) == (self.registers is None):
            raise ValueError("give either 'map' (a shipped map or a file) or inline 'registers'")
        return self


class SignalOutput(_Section):
    """The coil of an I/O module wired to the point's sounder/beacon 声光报警器: the only
    place the station writes (function 05, write single coil)."""

    bus: Code
    unit: Annotated[int, Field(ge=0, le=247)] = 1
    #: the coil's protocol address (0-based)
    coil: Annotated[int, Field(ge=0, le=65535)]
    #: the relay is wired normally closed: sounding is the coil off
    invert: bool = False


class PointSection(_Section):
    code: Code
    kind: Literal["belt", "skip", "mine_car", "tyred_vehicle", "truck"]
    devices: Annotated[list[Device], Field(min_length=1)]
    #: the sound-and-light warning at the outlet 声光预警 (optional)
    signal: SignalOutput | None = None


class Equipment(_Section):
    """What the station polls: its buses and points (what the center may issue)."""

    buses: dict[str, Bus] = {}
    points: list[PointSection] = []

    @model_validator(mode="after")
    def _references(self) -> Equipment:
        codes = [p.code for p in self.points]
        if len(set(codes)) != len(codes):
            raise ValueError("point codes must be unique")
        for point in self.points:
            buses = [d.bus for d in point.devices]
            if point.signal is not None:
                buses.append(point.signal.bus)
            for bus in buses:
                if bus not in self.buses:
                    raise ValueError(f"point {point.code}: no bus named {bus!r}")
        return self


class StationConfig(Equipment):
    station: StationSection

    @model_validator(mode="after")
    def _points_or_center(self) -> StationConfig:
        if not self.points and self.station.center_key is None:
            raise ValueError("give [[points]], or the center's key to take them from the center")
        return self


def load_map(name: str, relative_to: Path) -> RegisterMap:
    """A shipped map by name, or a TOML map file (relative to the config file)."""
    if name in SHIPPED_MAPS:
        text = resources.files("coalwatch.station.maps").joinpath(f"{name}.toml").read_text()
        return RegisterMap.model_validate(tomllib.loads(text))
    path = (relative_to / name).resolve()
    try:
        return RegisterMap.model_validate(tomllib.loads(path.read_text()))
    except OSError as exc:
        raise ConfigError(
            f"map {name!r} is neither a shipped map ({', '.join(SHIPPED_MAPS)}) nor a readable file"
        ) from exc


def describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False):
        where = ".".join(str(p) for p in error["loc"])
        lines.append(f"  {where}: {error['msg']}")
    return "\n".join(lines)


Maps = dict[tuple[str, int], RegisterMap]


def load_config(path: Path) -> tuple[StationConfig, Maps]:
    """The config and the resolved register map of every (point, device index)."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text())
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from exc
    return build_config(data, path)


def build_config(data: dict[str, Any], path: Path) -> tuple[StationConfig, Maps]:
    """Validate a configuration; ``path`` names it in messages, and map files are
    relative to its directory."""
    try:
        config = StationConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"{path} is invalid:\n{describe(exc)}") from exc
    return config, resolve_maps(config, path)


def resolve_maps(config: Equipment, path: Path) -> Maps:
    """The register map of every (point, device index), checked against the point's kind."""
    maps: Maps = {}
    for point in config.points:
        for index, device in enumerate(point.devices):
            try:
                maps[(point.code, index)] = device.registers or load_map(
                    device.map or "", path.parent
                )
            except ValidationError as exc:
                raise ConfigError(
                    f"{path}: point {point.code}, map {device.map!r} is invalid:\n{describe(exc)}"
                ) from exc
    for point in config.points:
        merged = [maps[(point.code, i)] for i in range(len(point.devices))]
        if point.kind == "belt" and not any(m.totalizer for m in merged):
            raise ConfigError(f"{path}: belt point {point.code} has no totalizer in its maps")
        if point.kind != "belt" and not any(m.trip_counter and m.trip_net for m in merged):
            raise ConfigError(
                f"{path}: {point.kind} point {point.code} needs a trip_counter and trip_net"
            )
    return maps
