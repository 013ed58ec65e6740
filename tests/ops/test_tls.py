"""The center served over TLS (``coalwatch serve --certfile --keyfile``) with a private CA.

A real ``coalwatch serve`` process with a certificate for 127.0.0.1 signed by a CA made
here; real ``coalwatch station run`` processes trusting that CA (``ca_file``), or
another one.
"""

from __future__ import annotations

import json
import os
import shutil
import ssl
import subprocess
import urllib.error
import urllib.request
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient

from coalwatch.config import Settings
from coalwatch.sim import BeltSpec, SimSet
from coalwatch.station.config import ConfigError
from coalwatch.station.uploader import tls_context
from coalwatch.web.app import create_app
from coalwatch.web.security import CSP
from tests.e2e.harness import Center, Station, coalwatch, free_port, register, wait_for
from tests.ops.certs import make_ca, make_server_cert, write_token

pytestmark = pytest.mark.timeout(90)


class TlsCenter(Center):
    """``coalwatch serve`` over HTTPS with the given certificate."""

    def __init__(self, directory: Path, certfile: Path, keyfile: Path, ca_file: Path) -> None:
        super().__init__(directory)
        self.url = f"https://127.0.0.1:{self.port}"
        self.certfile, self.keyfile = certfile, keyfile
        self.context = ssl.create_default_context(cafile=str(ca_file))

    def start(self) -> None:
        """Start it; on another free port when the one chosen was taken meanwhile (it is
        free when chosen, and another process on the machine may bind it before the
        center does)."""
        for attempt in range(3):
            args = ["--host", "127.0.0.1", "--port", str(self.port)]
            args += ["--certfile", str(self.certfile), "--keyfile", str(self.keyfile)]
            with self.log.open("ab") as log:
                self.process = subprocess.Popen(
                    coalwatch("serve", *args),
                    env=self.env,
                    cwd=self.directory,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            try:
                wait_for(self._up, 30, "the center to listen over TLS")
                return
            except AssertionError as exc:
                if "address already in use" not in str(exc) or attempt == 2:
                    raise
            self.port = free_port()
            self.url = f"https://127.0.0.1:{self.port}"

    def _up(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            raise AssertionError(f"the center exited: {self.log.read_text()[-2000:]}")
        try:
            self.fetch("/api/v1/openapi.json")
            return True
        except OSError:
            return False

    def fetch(self, path: str) -> Any:
        """GET over HTTPS, verifying the center by the private CA; the response, read."""
        with urllib.request.urlopen(f"{self.url}{path}", timeout=2, context=self.context) as r:
            r.read()
            return r

    def api(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        query = f"?{urlencode(params)}" if params else ""
        request = urllib.request.Request(
            f"{self.url}/api/v1{path}{query}",
            data=None if body is None else json.dumps(body).encode(),
            method=method,
            headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30, context=self.context) as response:
                return json.loads(response.read(), parse_float=Decimal)
        except urllib.error.HTTPError as exc:
            raise AssertionError(f"{method} {path}: {exc.code} {exc.read()!r}") from None


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    directory = tmp_path_factory.mktemp("pki")
    ca = make_ca(directory, "mine-ca")
    other = make_ca(directory, "other-ca")
    cert, key = make_server_cert(directory, ca)
    return {"ca": ca.path, "other_ca": other.path, "cert": cert, "key": key}


@pytest.fixture(scope="module")
def center(
    tmp_path_factory: pytest.TempPathFactory, pki: dict[str, Path], sqlite_template: Path
) -> Iterator[TlsCenter]:
    c = TlsCenter(tmp_path_factory.mktemp("center"), pki["cert"], pki["key"], pki["ca"])
    shutil.copy(sqlite_template, c.directory / "center.db")  # migrated (the harness's path)
    c.token = write_token(c.env["COALWATCH_DATABASE_URL"])
    try:
        c.start()  # a center that does not listen in time is stopped too
        yield c
    finally:
        c.stop()


@pytest.fixture
def station(center: TlsCenter, tmp_path: Path) -> Iterator[Any]:
    started: list[tuple[SimSet, Station]] = []

    def make(mine: str, ca_file: Path) -> Station:
        sims = SimSet(belts=[BeltSpec(code="B1", rate_tph=600, time_factor=60.0, seed=1)])
        sims.start()
        directory = tmp_path / mine
        directory.mkdir()
        station = Station(
            f"S-{mine}",
            mine,
            directory,
            sims,
            [center.url],
            settings={"ca_file": str(ca_file), "retry_first_s": 0.2, "retry_max_s": 1.0},
            poll_interval_s=0.3,
        )
        started.append((sims, station))
        register(center, mine, station.code, station.make_key(), ["B1"], [], org="TLS")
        station.start()
        return station

    yield make
    for sims, station in started:
        station.stop()
        sims.stop()
        print(station.log_tail(10_000))  # shown when the test failed


def test_a_station_trusting_the_private_ca_uploads_over_tls(
    center: TlsCenter, station: Any, pki: dict[str, Path]
) -> None:
    s = station("T1", pki["ca"])
    wait_for(
        lambda: len(center.records("T1", type="totalizer")) >= 3,
        20,
        f"readings over TLS\n{s.log_tail()}",
    )
    assert "not trusted" not in s.log_tail()


def test_a_station_with_another_ca_refuses_the_center_and_keeps_its_records(
    center: TlsCenter, station: Any, pki: dict[str, Path]
) -> None:
    s = station("T2", pki["other_ca"])
    wait_for(
        lambda: "the center's certificate is not trusted" in s.log_tail(),
        20,
        f"the station to refuse the center\n{s.log_tail()}",
    )
    wait_for(lambda: s.outbox_count() >= 3, 20, "records kept in the outbox")
    assert center.records("T2") == []
    assert "check ca_file" in s.log_tail()


def test_responses_over_tls_carry_the_security_headers_and_hsts(center: TlsCenter) -> None:
    response = center.fetch("/login")
    assert response.headers["content-security-policy"] == CSP
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert "frame-ancestors 'none'" in CSP and "http" not in CSP  # no outside origin


def test_the_center_refuses_a_client_that_does_not_trust_its_ca(
    center: TlsCenter, pki: dict[str, Path]
) -> None:
    other = ssl.create_default_context(cafile=str(pki["other_ca"]))
    with pytest.raises(urllib.error.URLError) as refused:
        urllib.request.urlopen(f"{center.url}/login", timeout=5, context=other)
    assert isinstance(refused.value.reason, ssl.SSLCertVerificationError)


def test_a_missing_or_unusable_ca_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        tls_context(tmp_path / "absent.pem")
    junk = tmp_path / "junk.pem"
    junk.write_text("not a certificate")
    with pytest.raises(ConfigError, match="no usable CA certificate"):
        tls_context(junk)


def test_plain_http_has_the_headers_but_no_hsts_and_tls_marks_cookies_secure(
    sqlite_url: str, pki: dict[str, Path]
) -> None:
    base = {"database_url": sqlite_url, "jobs": False, "secret_key": "k"}
    with TestClient(create_app(Settings(**base))) as client:
        response = client.get("/login")
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "strict-transport-security" not in response.headers
    tls = Settings(**base, tls_certfile=pki["cert"], tls_keyfile=pki["key"])
    assert tls.secure_cookies and not Settings(**base).secure_cookies
    with TestClient(create_app(tls), base_url="https://testserver") as client:
        response = client.get("/login")
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert "; secure" in response.headers["set-cookie"].lower()  # the form's CSRF session


def test_pages_run_in_chromium_over_tls_under_the_content_security_policy(
    center: TlsCenter,
) -> None:
    from tests.web.conftest import CHROMIUM, CHROMIUM_ARGS

    assert os.path.exists(CHROMIUM), f"{CHROMIUM} is missing (make browser installs it)"
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            # the browser does not know the test CA; the station tests verify the chain
            context = browser.new_context(ignore_https_errors=True)
            page = context.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.goto(f"{center.url}/login")
            page.wait_for_load_state("networkidle")
            # the scripts (files under /static) ran: htmx is there
            assert page.evaluate("typeof window.htmx") == "object"
            assert page.locator("form input[type=password]").count() == 1
        finally:
            browser.close()
    assert errors == []  # a CSP violation is a console error
