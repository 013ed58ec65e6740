from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path
from fastapi.responses import Response

from coalwatch.status import service
from coalwatch.status.schemas import MineStatusOut
from coalwatch.web.context import Ctx
from coalwatch.web.exports import Cell, csv_response
from coalwatch.web.formats import TableFormatQuery, table_content

router = APIRouter(tags=["status"])

CSV_HEADER = (
    "section",
    "code",
    "kind",
    "online",
    "last_seen_at",
    "acked_seq",
    "conveyor_running",
    "last_reading_at",
    "last_total_t",
    "active_alarms",
    "open_faults",
    "today_gross_t",
    "today_raw_t",
    "today_manual_t",
)
CSV_EXAMPLE = (
    ",".join(CSV_HEADER) + "\r\n"
    "mine,M1,,,,,,,,1,0,412.500,393.938,0.000\r\n"
    "station,S1,,true,2026-03-15T03:59:30+00:00,1842,,,,,,,,\r\n"
    "point,B1,belt,,,,true,2026-03-15T03:59:30+00:00,12345.678,,,,,\r\n"
)
JSON_EXAMPLE: dict[str, Any] = {
    "mine": "M1",
    "name": "M1 矿",
    "org": "C1",
    "at": "2026-03-15T04:00:00Z",
    "comm_loss_minutes": 3,
    "stations": [
        {"code": "S1", "last_seen_at": "2026-03-15T03:59:30Z", "online": True, "acked_seq": 1842}
    ],
    "points": [
        {
            "code": "B1",
            "name": "B1 皮带秤",
            "kind": "belt",
            "conveyor_running": True,
            "conveyor_at": "2026-03-15T01:00:00Z",
            "last_reading_at": "2026-03-15T03:59:30Z",
            "last_total_t": 12345.678,
            "flow_tph": 640,
        }
    ],
    "active_alarms": [],
    "open_faults": [],
    "today": {
        "gross_t": 412.5,
        "raw_t": 393.938,
        "manual_t": 0,
        "capacity_t": 1000,
        "approved_capacity_t": 1000,
        "plan_t": None,
        "ratio": 0.3939,
        "over": False,
        "excess_t": None,
    },
}


def _flag(value: bool | None) -> str | None:
    return None if value is None else str(value).lower()


def _row(**cells: Cell) -> list[Cell]:
    return [cells.get(column) for column in CSV_HEADER]


def _rows(status: MineStatusOut) -> list[list[Cell]]:
    """One row for the mine (alarms, faults, today), then one per station and per point."""
    rows = [
        _row(
            section="mine",
            code=status.mine,
            active_alarms=len(status.active_alarms),
            open_faults=len(status.open_faults),
            today_gross_t=status.today.gross_t,
            today_raw_t=status.today.raw_t,
            today_manual_t=status.today.manual_t,
        )
    ]
    rows.extend(
        _row(
            section="station",
            code=station.code,
            online=_flag(station.online),
            last_seen_at=station.last_seen_at,
            acked_seq=station.acked_seq,
        )
        for station in status.stations
    )
    rows.extend(
        _row(
            section="point",
            code=point.code,
            kind=point.kind,
            conveyor_running=_flag(point.conveyor_running),
            last_reading_at=point.last_reading_at,
            last_total_t=point.last_total_t,
        )
        for point in status.points
    )
    return rows


@router.get(
    "/mines/{mine}/status",
    summary="A mine now: stations online, conveyors, open alarms and faults, today so far",
    response_model=MineStatusOut,
    responses={200: table_content(JSON_EXAMPLE, CSV_EXAMPLE)},
)
def mine_status(
    mine: Annotated[str, Path(max_length=64)], ctx: Ctx, format: TableFormatQuery = "json"
) -> MineStatusOut | Response:
    with ctx.session() as session:
        status = service.mine_status(session, ctx.principal(session), mine, ctx.now())
    if format == "csv":
        return csv_response(f"status-{status.mine}", CSV_HEADER, _rows(status))
    return status
