"""The sound-and-light warning at the outlet 声光预警: which alarms sound a point's beacon.

A supervising unit 监管单位 chooses the alarm types that sound for its subtree (a mine's
own choice, then its nearest org's, wins); without a choice the cheating kinds sound.
A beacon sounds while an alarm of those types is unacknowledged (an alarm of the whole
station sounds every point's beacon) and goes off when it is acknowledged at the center.
The station sounds it itself, when the center is unreachable, for what it sees on its own.
"""

from __future__ import annotations

from collections.abc import Iterable

from coalwatch.domain.alarms import AlarmType

#: the cheating kinds: an enclosure opened outside a permit (only then is it an alarm),
#: changed parameters, counting while stopped, too little carried, mains lost
DEFAULT_TYPES: tuple[AlarmType, ...] = (
    AlarmType.ENCLOSURE_OPEN,
    AlarmType.PARAMETER_CHANGE,
    AlarmType.METERING_ANOMALY,
    AlarmType.TRANSPORT_ANOMALY,
    AlarmType.POWER_OFF,
)

#: events the station sees itself, and the alarm each becomes at the center
LOCAL_EVENTS: dict[str, AlarmType] = {
    "enclosure_open": AlarmType.ENCLOSURE_OPEN,
    "parameter_change": AlarmType.PARAMETER_CHANGE,
    "power_off": AlarmType.POWER_OFF,
}


def choose(types: Iterable[str]) -> tuple[AlarmType, ...]:
    """The alarm types of a choice, each once, in the rulebook's order; ValueError
    naming one that is no alarm type."""
    wanted = set()
    for name in types:
        try:
            wanted.add(AlarmType(name))
        except ValueError:
            raise ValueError(f"{name!r} is not an alarm type") from None
    return tuple(t for t in AlarmType if t in wanted)


def sounding(
    points: Iterable[str], alarms: Iterable[tuple[int, str | None]]
) -> dict[str, list[int]]:
    """Per point, the ids of the alarms that sound it: ``alarms`` are (id, point code or
    None for an alarm of the whole station) of the unacknowledged alarms of the chosen
    types."""
    codes = list(points)
    result: dict[str, list[int]] = {code: [] for code in codes}
    for alarm_id, point in alarms:
        for code in codes if point is None else [point]:
            if code in result:
                result[code].append(alarm_id)
    return result
