from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from coalwatch.alarms import channels, service, thresholds
from coalwatch.alarms.schemas import AlarmList, AlarmOut, AlarmState, HandleIn
from coalwatch.schemas import Id
from coalwatch.web.context import Ctx
from coalwatch.web.exports import csv_response
from coalwatch.web.formats import TableFormatQuery, table_content
from coalwatch.wire.types import Moment

router = APIRouter(tags=["alarms"])


CSV_COLUMNS = tuple(AlarmOut.model_fields)
CSV_EXAMPLE = (
    ",".join(CSV_COLUMNS) + "\r\n"
    "7,overproduction_day,major,M1,,2026-03-15T02:10:00+00:00,,1012.500,1000.000,"
    '超产产量 12.500 t,"{""code"": ""excess"", ""excess"": ""12.500""}",'
    "acknowledged,token:ops,2026-03-15T02:12:00+00:00,,,\r\n"
)


@router.get(
    "/alarms",
    summary="Alarms in scope, newest first",
    description="With `format=csv`: one row per alarm, the columns of the JSON items.",
    response_model=AlarmList,
    responses={200: table_content(None, CSV_EXAMPLE)},
)
def list_alarms(
    ctx: Ctx,
    mine: str | None = None,
    type: str | None = None,
    state: AlarmState | None = None,
    start: Annotated[Moment | None, Query(alias="from")] = None,
    end: Annotated[Moment | None, Query(alias="to")] = None,
    format: TableFormatQuery = "json",
) -> AlarmList | Response:
    with ctx.session() as session:
        items = service.list_alarms(
            session,
            ctx.principal(session),
            mine=mine,
            type_=type,
            state=state,
            start=start,
            end=end,
        )
    if format == "csv":
        rows = [[getattr(item, column) for column in CSV_COLUMNS] for item in items]
        return csv_response("alarms", CSV_COLUMNS, rows)
    return AlarmList(items=items)


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge an alarm")
def acknowledge(alarm_id: Id, ctx: Ctx) -> AlarmOut:
    with ctx.session() as session:
        return service.acknowledge(session, ctx.principal(session), alarm_id, ctx.now())


@router.post("/alarms/{alarm_id}/handle", summary="Record how an alarm was handled")
def handle(alarm_id: Id, data: HandleIn, ctx: Ctx) -> AlarmOut:
    with ctx.session() as session:
        return service.handle(session, ctx.principal(session), alarm_id, data, ctx.now())


@router.get("/mines/{mine}/thresholds", summary="The rule thresholds in force for a mine or point")
def show_thresholds(mine: str, ctx: Ctx, point: str | None = None) -> thresholds.ThresholdsOut:
    with ctx.session() as session:
        return thresholds.show(session, ctx.principal(session), mine, point)


@router.put("/mines/{mine}/thresholds", summary="Change a rule threshold (audited)")
def set_threshold(mine: str, data: thresholds.ThresholdIn, ctx: Ctx) -> thresholds.ThresholdsOut:
    with ctx.session() as session:
        return thresholds.set_threshold(session, ctx.principal(session), mine, data, ctx.now())


@router.get("/notification-channels", summary="Notification channels and their subscriptions")
def list_channels(ctx: Ctx) -> list[channels.ChannelOut]:
    with ctx.session() as session:
        return channels.list_channels(session, ctx.principal(session))


@router.post("/notification-channels", status_code=201, summary="Add a notification channel")
def create_channel(data: channels.ChannelIn, ctx: Ctx) -> channels.ChannelOut:
    with ctx.session() as session:
        return channels.create_channel(session, ctx.principal(session), data, ctx.now())


@router.post(
    "/notification-channels/{name}/subscriptions",
    summary="Send a channel the alarms of a role, mine and severity",
)
def subscribe(name: str, data: channels.SubscriptionIn, ctx: Ctx) -> channels.ChannelOut:
    with ctx.session() as session:
        return channels.subscribe(session, ctx.principal(session), name, data, ctx.now())
