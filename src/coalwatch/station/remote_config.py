"""The station's configuration belongs to the center (主站初始化参数由中心下发).

With the center's public key in ``[station] center_key`` the station fetches its buses
and points (with every register map written out) from the center, signed with the
center's key: at start, and whenever an upload answer names a configuration other than
the one it runs. A document whose signature is not the center's is refused (logged) and
the station keeps what it runs. The last document taken is kept (``config_cache``) so
that a restart without the center runs it; a station that has never reached its center
runs its local file. Every heartbeat carries the fingerprint of what runs, and the
center raises ``parameter_change`` when it is not what it issued.

Fetch: ``POST {center}/api/v1/stations/{code}/config/fetch`` with a body signed like a
batch (``{"station", "sent_at", "running"}``); the answer is ``wire.station_config.
SignedConfig``, or 404 when the center holds no configuration for the station.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import ValidationError

from coalwatch.station.config import (
    SHIPPED_MAPS,
    ConfigError,
    Equipment,
    Maps,
    StationConfig,
    build_config,
    describe,
    resolve_maps,
)
from coalwatch.wire.signing import SIGNATURE_HEADER, sign
from coalwatch.wire.station_config import (
    ConfigDocument,
    ConfigRefused,
    SignedConfig,
    fingerprint,
    open_signed,
)

log = logging.getLogger("coalwatch.station.config")

Post = Callable[[str, bytes, dict[str, str]], tuple[int, bytes]]


def normal_form(config: Equipment, maps: Maps) -> dict[str, Any]:
    """The configuration proper (buses and points, every map written out) as plain JSON
    data: what the center signs and what the fingerprint is taken of."""
    points = []
    for point in config.points:
        points.append(
            {
                "code": point.code,
                "kind": point.kind,
                "signal": None if point.signal is None else point.signal.model_dump(mode="json"),
                "devices": [
                    {
                        "bus": device.bus,
                        "unit": device.unit,
                        "registers": maps[(point.code, index)].model_dump(mode="json"),
                    }
                    for index, device in enumerate(point.devices)
                ],
            }
        )
    return {
        "buses": {name: bus.model_dump(mode="json") for name, bus in sorted(config.buses.items())},
        "points": points,
    }


def running_fingerprint(config: StationConfig, maps: Maps) -> str:
    return fingerprint(normal_form(config, maps))


def issued_form(data: dict[str, Any]) -> dict[str, Any]:
    """A configuration given to the center (buses and points; a device's map a shipped
    map's name or inline registers), checked and in its normal form; ConfigError saying
    what is wrong."""
    try:
        equipment = Equipment.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(f"the configuration is invalid:\n{describe(exc)}") from exc
    if not equipment.points:
        raise ConfigError("the configuration has no points")
    for point in equipment.points:
        for device in point.devices:
            if device.map is not None and device.map not in SHIPPED_MAPS:
                raise ConfigError(
                    f"point {point.code}: map {device.map!r} is not a shipped map "
                    f"({', '.join(SHIPPED_MAPS)}); give its registers inline"
                )
    return normal_form(equipment, resolve_maps(equipment, Path("configuration")))


def with_document(
    local: StationConfig, document: ConfigDocument
) -> tuple[StationConfig, Maps, str]:
    """The station section of the local file with the center's buses and points."""
    data = {"station": local.station, **document.config}
    config, maps = build_config(data, Path(f"center configuration v{document.version}"))
    return config, maps, running_fingerprint(config, maps)


class RemoteConfig:
    """Fetches, verifies and keeps the configuration the center issued."""

    def __init__(
        self,
        local: StationConfig,
        key: Ed25519PrivateKey,
        cache: Path,
        clock: Callable[[], datetime],
    ) -> None:
        assert local.station.center_key is not None
        self.local = local
        self.center_key = local.station.center_key
        self.key = key
        self.cache = cache
        self.clock = clock
        self._refused: set[str] = set()

    def fetch(self, post: Post, running: str) -> tuple[StationConfig, Maps, str, int] | None:
        """The center's configuration, verified and kept, from the first center that has
        one; None when none answers with one (each failure logged)."""
        code = self.local.station.code
        body = json.dumps(
            {"station": code, "sent_at": self.clock().isoformat(), "running": running}
        ).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.key, body)}
        for center in self.local.station.centers:
            url = f"{center.rstrip('/')}/api/v1/stations/{code}/config/fetch"
            try:
                status, data = post(url, body, headers)
            except OSError as exc:
                log.warning("configuration from %s: unreachable (%s)", center, exc)
                continue
            if status == 404:
                log.info("%s holds no configuration for this station", center)
                return None
            if status != 200:
                log.warning("configuration from %s: HTTP %d %s", center, status, data[:200])
                continue
            try:
                signed = SignedConfig.model_validate_json(data)
                taken = self._open(signed)
            except (ValidationError, ConfigRefused, ConfigError) as exc:
                reason = str(exc).splitlines()[0]
                if reason not in self._refused:
                    self._refused.add(reason)
                    log.error("configuration from %s refused: %s", center, reason)
                continue
            self._keep(signed)
            return taken
        return None

    def cached(self) -> tuple[StationConfig, Maps, str, int] | None:
        """The last configuration taken from the center, verified again; None without one."""
        try:
            signed = SignedConfig.model_validate_json(self.cache.read_bytes())
            return self._open(signed)
        except FileNotFoundError:
            return None
        except (OSError, ValidationError, ConfigRefused, ConfigError) as exc:
            log.error("the kept configuration %s is refused: %s", self.cache, exc)
            return None

    def _open(self, signed: SignedConfig) -> tuple[StationConfig, Maps, str, int]:
        document = open_signed(signed, self.center_key, self.local.station.code)
        config, maps, fp = with_document(self.local, document)
        return config, maps, fp, document.version

    def _keep(self, signed: SignedConfig) -> None:
        self.cache.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.cache.with_suffix(".tmp")
        temporary.write_text(signed.model_dump_json())
        os.replace(temporary, self.cache)
