"""Sending a message to a channel: generic JSON webhook, WeCom and DingTalk group
robots, SMTP e-mail, an HTTP SMS gateway. Each raises SendError with a reason."""

from __future__ import annotations

import json
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from typing import Any

TIMEOUT_S = 10


class SendError(Exception):
    pass


def _post_json(url: str, body: Any, headers: dict[str, str] | None = None) -> bytes:
    data = json.dumps(body, ensure_ascii=False).encode()
    request = urllib.request.Request(
        url,
        data=data,
        method="POST",
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            return bytes(response.read())
    except urllib.error.HTTPError as exc:
        raise SendError(f"HTTP {exc.code} from {url}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise SendError(f"cannot reach {url}: {getattr(exc, 'reason', exc)}") from exc


def _robot_answer(raw: bytes, url: str) -> None:
    """WeCom and DingTalk answer 200 with {"errcode": 0} on success, a code otherwise."""
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        return
    if isinstance(answer, dict) and answer.get("errcode", 0) != 0:
        raise SendError(f"{url} refused the message: {answer.get('errmsg', answer['errcode'])}")


def send(
    kind: str, settings: dict[str, Any], subject: str, text: str, payload: dict[str, Any]
) -> None:
    if kind == "webhook":
        _post_json(settings["url"], {"subject": subject, "text": text, "alarm": payload})
    elif kind == "wecom":
        body = {"msgtype": "markdown", "markdown": {"content": f"**{subject}**\n{text}"}}
        _robot_answer(_post_json(settings["url"], body), settings["url"])
    elif kind == "dingtalk":
        keyword = settings.get("keyword", "")
        body = {"msgtype": "text", "text": {"content": f"{keyword}{subject}\n{text}"}}
        _robot_answer(_post_json(settings["url"], body), settings["url"])
    elif kind == "smtp":
        _send_mail(settings, subject, text)
    elif kind == "sms":
        for phone in settings["phones"]:
            body = json.loads(
                json.dumps(settings["template"])
                .replace("{phone}", phone)
                .replace("{text}", json.dumps(f"{subject} {text}", ensure_ascii=False)[1:-1])
            )
            _post_json(settings["url"], body, settings.get("headers"))
    else:
        raise SendError(f"unknown channel kind {kind!r}")


def _send_mail(settings: dict[str, Any], subject: str, text: str) -> None:
    message = EmailMessage()
    message["Subject"] = subject
    message["From"] = settings["sender"]
    message["To"] = ", ".join(settings["recipients"])
    message.set_content(text)
    try:
        with smtplib.SMTP(
            settings["host"], int(settings.get("port", 25)), timeout=TIMEOUT_S
        ) as smtp:
            if settings.get("starttls"):
                smtp.starttls()
            if settings.get("username"):
                smtp.login(settings["username"], settings.get("password", ""))
            smtp.send_message(message)
    except (smtplib.SMTPException, OSError) as exc:
        raise SendError(f"SMTP {settings['host']}:{settings.get('port', 25)}: {exc}") from exc
