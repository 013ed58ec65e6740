"""Notifications reach a local SMTP server and local HTTP receivers; a failing
receiver is retried with backoff and then alarmed, never silently dropped."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from email import message_from_bytes
from email.policy import default
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller

from coalwatch.alarms.channels import MAX_ATTEMPTS, backoff
from tests.support.world import World, world

SH = ZoneInfo("Asia/Shanghai")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """A local HTTP server that records what it is sent; /fail answers 500."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, Any]]] = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append((self.path, body))
                failing = self.path.startswith("/fail")
                answer = b'{"errcode": 0, "errmsg": "ok"}'
                self.send_response(500 if failing else 200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def smtp() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def power_off(w: World) -> None:
    seq = w.stations["S1"].seqs(1)[0]
    w.ok(
        w.upload(
            "S1",
            [{"seq": seq, "ts": w.clock(), "type": "event", "point": "B1", "event": "power_off"}],
        )
    )


def channel(w: World, name: str, kind: str, settings: dict[str, Any], **sub: Any) -> None:
    w.ok(w.post("/notification-channels", {"name": name, "kind": kind, "settings": settings}))
    w.ok(w.post(f"/notification-channels/{name}/subscriptions", {"role": "dispatcher", **sub}))


def test_alarm_reaches_webhook_wecom_dingtalk_sms_and_email(
    sqlite_url: str, receiver: Receiver, smtp: tuple[Mailbox, int]
) -> None:
    box, port = smtp
    with world(sqlite_url, now=datetime(2026, 3, 15, 12, 0, tzinfo=SH)) as w:
        w.mine("M1")
        channel(w, "hook", "webhook", {"url": f"{receiver.url}/hook"})
        channel(w, "wecom", "wecom", {"url": f"{receiver.url}/wecom"})
        channel(w, "ding", "dingtalk", {"url": f"{receiver.url}/ding", "keyword": "报警"})
        channel(
            w,
            "sms",
            "sms",
            {
                "url": f"{receiver.url}/sms",
                "phones": ["13800000000"],
                "template": {"to": "{phone}", "msg": "{text}"},
            },
        )
        channel(
            w,
            "mail",
            "smtp",
            {
                "host": "127.0.0.1",
                "port": port,
                "sender": "cw@mine.local",
                "recipients": ["dispatch@mine.local"],
            },
        )
        channel(
            w,
            "critical-only",
            "webhook",
            {"url": f"{receiver.url}/critical"},
            min_severity="critical",
        )
        power_off(w)
        w.tick()
        paths = sorted(path for path, _ in receiver.requests)
        assert paths == ["/ding", "/hook", "/sms", "/wecom"]  # power_off is major, not critical
        bodies = dict(receiver.requests)
        assert bodies["/hook"]["alarm"]["type"] == "power_off"
        assert bodies["/hook"]["alarm"]["mine"] == "M1"
        assert (
            bodies["/wecom"]["msgtype"] == "markdown"
            and "停电" in bodies["/wecom"]["markdown"]["content"]
        )
        assert bodies["/ding"]["msgtype"] == "text" and bodies["/ding"]["text"][
            "content"
        ].startswith("报警")
        assert bodies["/sms"]["to"] == "13800000000" and "停电" in bodies["/sms"]["msg"]
        [mail] = [message_from_bytes(m, policy=default) for m in box.messages]
        assert "停电" in str(mail["Subject"]) and mail["To"] == "dispatch@mine.local"
        w.tick()  # nothing is sent twice
        assert len(receiver.requests) == 4 and len(box.messages) == 1


def test_failing_receiver_is_retried_with_backoff_then_alarmed(
    sqlite_url: str, receiver: Receiver
) -> None:
    with world(sqlite_url, now=datetime(2026, 3, 15, 12, 0, tzinfo=SH)) as w:
        w.mine("M1")
        channel(w, "broken", "webhook", {"url": f"{receiver.url}/fail"})
        power_off(w)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            w.tick()
            assert len(receiver.requests) == attempt
            w.tick()  # not due again before its backoff: 5 s, 10 s, 20 s, 40 s
            assert len(receiver.requests) == attempt
            w.clock.advance(seconds=backoff(attempt).total_seconds())
        assert backoff(1) == timedelta(seconds=5) and backoff(4) == timedelta(seconds=40)
        [failed] = w.alarms(type="notification_failed")
        assert failed["value"] == f"{MAX_ATTEMPTS} attempts" and "HTTP 500" in failed["detail"]
        w.tick()
        assert len(receiver.requests) == MAX_ATTEMPTS  # given up: no more attempts
