"""Click everything, as a person on the first day would: every page of the menu, every
download and print button, every form once, in Chinese and in English; the administrator
and a user the administrator creates in the browser (who must change the first password).

The pages, buttons and forms come from what the pages render (the sidebar's links, the
``.exports`` links, ``[data-print]`` buttons and the forms of ``<main>``), so a new page
or button is covered without changing this test. A problem does not stop the walk: every
problem found is collected and the test fails listing all of them.
"""

from __future__ import annotations

import csv
import io
import re
import subprocess
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from openpyxl import load_workbook

from coalwatch.storage.session import make_engine, make_sessionmaker, transaction
from coalwatch.users import repository
from coalwatch.wire.signing import generate_private_key, public_key_b64
from tests.web.conftest import (
    ADMIN_PASSWORD,
    MINES,
    ORGS,
    PASSWORD,
    USERS,
    Center,
    Console,
    screenshot,
    sign_in,
)

NEW_USER = "sunqi"
FIRST_PASSWORD = "Initial-2026x"
NEW_PASSWORD = "Changed-2026y"
HAN = re.compile(r"[\u3400-\u9fff]")
#: the titles of the error page (web/errors.py TITLES), in both languages
ERROR_TITLES = ("请求有误", "未登录", "权限不足", "未找到", "输入有误", "系统内部错误")

#: values for the fields a form requires, by field name; fixed dates, so that nothing
#: depends on the day or the time of day the test runs
FILL: dict[str, str] = {
    "code": "T9",
    "name": "测试九",
    "annual_capacity_t": "900000",
    "effective_from": "2026-07-01",
    "licence_no": "晋煤行审〔2026〕12号",
    "licence_date": "2026-01-05",
    "effective_to": "2026-12-31",
    "month": "2026-03",
    "month_t": "80000",
    "percent": "4.50",
    "analysis": "取样化验：含矸率 4.5%",
    "gross_t": "12.500",
    "start": "2026-03-10T08:00",
    "end": "2026-03-10T10:00",
    "reason": "皮带秤检修期间人工计量",
    "occurred_at": "2026-03-10T08:00",
    "phenomenon": "皮带秤示值跳变",
    "performed_by": "检修工 王五",
    "content": "更换称重传感器",
    "calibrated_on": "2026-03-10",
    "old_interval": "0.5",
    "first_actual_t": "100.000",
    "first_indicated_t": "100.200",
    "calibrated_by": "计量员 赵六",
    "text": "值班正常",
    "incoming": "李四",
    "checked": "主井皮带秤、分站",
    "findings": "无异常",
    "tested_at": "2026-03-10T08:00",
    "minutes_on_backup": "30",
    "tested_by": "电工 张三",
    "result": "已通知调度员，恢复供电后复查",
    "snapshot_url": "http://127.0.0.1:9/snapshot.jpg",
    "yuan_per_t": "5.50",
    "resume_at": "2026-03-10T10:00",
    "number": "晋煤罚〔2026〕1号",
    "mine": "FHS",
    "facts": "值机员未持证上岗",
    "found_on": "2026-03-10",
    "enterprise_fine": "30000",
}
#: forms that are not submitted, with the reason (keep this short)
NOT_SUBMITTED = {
    # deleting users is covered by tests/web/test_accounts.py; here it would remove the
    # users the other pages are looked at with
    "/system/users-delete": "deletes users",
    # a file to choose, which a script cannot: tests/archive/test_pages.py uploads
    **{f"/ledger/archive/mine/{code}/upload": "a file to choose" for code, *_ in MINES},
}


@dataclass
class Problems:
    """Everything that went wrong on the walk; the test fails listing all of it."""

    base: str
    found: list[str] = field(default_factory=list)
    #: URLs whose 4xx a test provokes on purpose
    expected_status: set[str] = field(default_factory=set)

    def add(self, text: str) -> None:
        if text not in self.found:
            self.found.append(text)

    def watch(self, page: Any) -> None:
        """Failed requests, requests to another host, 4xx/5xx answers."""
        host = urlparse(self.base).netloc

        def on_request(request: Any) -> None:
            url = urlparse(request.url)
            if url.scheme in ("http", "https", "ws", "wss") and url.netloc != host:
                self.add(f"request to another host: {request.url} (from {page.url})")

        def on_response(response: Any) -> None:
            if response.status >= 400 and response.url not in self.expected_status:
                self.add(f"{response.status} {response.request.method} {response.url}")

        def on_failed(request: Any) -> None:
            failure = request.failure or ""
            # leaving a page cancels its event stream and pending fragments: not a fault
            if "ERR_ABORTED" in failure:
                return
            self.add(f"request failed: {request.method} {request.url}: {failure}")

        page.on("request", on_request)
        page.on("response", on_response)
        page.on("requestfailed", on_failed)

    def check(self) -> None:
        assert self.found == [], f"{len(self.found)} problems:\n" + "\n".join(self.found)


def _open(new_page: Any, problems: Problems) -> Any:
    page = new_page()
    problems.watch(page)
    # the print buttons call window.print(): count the calls instead of printing
    page.add_init_script(
        "window.print = function () { window.__printed = (window.__printed || 0) + 1; };"
    )
    return page


def menu(page: Any) -> list[str]:
    """The pages of the menu, as the sidebar renders them."""
    hrefs: list[str] = page.locator("nav.sidebar a[href]").evaluate_all(
        "links => links.map(a => a.getAttribute('href'))"
    )
    return hrefs


def _goto(page: Any, href: str, problems: Problems) -> bool:
    response = page.goto(href)
    page.wait_for_load_state("load")
    if response is None or response.status >= 400:
        problems.add(f"{href}: page answered {response.status if response else 'nothing'}")
        return False
    title = page.locator("h1").first.inner_text() if page.locator("h1").count() else ""
    if any(title.startswith(t) for t in ERROR_TITLES):
        problems.add(f"{href}: an error page: {title}")
        return False
    return True


# ---- downloads and print ----------------------------------------------------------------


def _kind(url: str) -> str:
    parsed = urlparse(url)
    fmt = parse_qs(parsed.query).get("format", [""])[0]
    return fmt or parsed.path.rsplit(".", 1)[-1]


CONTENT_TYPES = {
    "pdf": "application/pdf",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "html": "text/html",
}


def check_download(page: Any, href: str, where: str, problems: Problems, tmp: Path) -> None:
    """One download link: its answer, type and content (PDF pages, XLSX titles, CSV rows)."""
    url = urlparse(href)
    if url.netloc and url.netloc != urlparse(problems.base).netloc:
        problems.add(f"{where}: download {href} leaves the center")
        return
    answer = page.request.get(href)
    kind = _kind(href)
    label = f"{where}: {kind.upper()} {href}"
    if answer.status != 200:
        problems.add(f"{label}: {answer.status} {answer.text()[:160]}")
        return
    content_type = answer.headers.get("content-type", "")
    body = answer.body()
    if kind not in CONTENT_TYPES or not content_type.startswith(CONTENT_TYPES[kind]):
        problems.add(f"{label}: content type {content_type!r}")
        return
    if not body:
        problems.add(f"{label}: empty")
        return
    if kind == "pdf":
        path = tmp / "download.pdf"
        path.write_bytes(body)
        info = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True)
        pages = re.search(r"^Pages:\s+(\d+)", info.stdout, re.MULTILINE)
        text = subprocess.run(
            ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True
        ).stdout
        if info.returncode != 0 or not pages or int(pages.group(1)) < 1 or not text.strip():
            problems.add(f"{label}: not a readable PDF ({info.stderr.strip()[:120]})")
    elif kind == "xlsx":
        try:
            sheet = load_workbook(io.BytesIO(body)).active
        except Exception as exc:
            problems.add(f"{label}: openpyxl cannot open it: {exc}")
            return
        first = sheet.cell(row=1, column=1).value if sheet is not None else None
        if not isinstance(first, str) or not first.strip():
            problems.add(f"{label}: no title cell A1 ({first!r})")
    elif kind == "csv":
        try:
            rows = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
        except (UnicodeDecodeError, csv.Error) as exc:
            problems.add(f"{label}: not CSV: {exc}")
            return
        if not rows or not all(rows[0]):
            problems.add(f"{label}: no header row")
        elif any(len(row) != len(rows[0]) for row in rows):
            problems.add(f"{label}: rows of unequal length")


def press_downloads(page: Any, where: str, problems: Problems, tmp: Path) -> int:
    """Every download link of the page and every print button; returns how many."""
    hrefs: list[str] = page.locator(".exports a[href], a[id^=export-]").evaluate_all(
        "links => [...new Set(links.map(a => a.href))]"
    )
    for href in hrefs:
        check_download(page, href, where, problems, tmp)
    prints = page.locator("[data-print]")
    for index in range(prints.count()):
        before = page.evaluate("window.__printed || 0")
        prints.nth(index).click()
        if page.evaluate("window.__printed || 0") != before + 1:
            problems.add(f"{where}: print button {index + 1} does not print")
    return len(hrefs) + prints.count()


# ---- forms --------------------------------------------------------------------------------

FORMS_JS = """() => Array.from(document.querySelectorAll('main form')).map((f, index) => ({
  index,
  method: (f.getAttribute('hx-post') ? 'post' : (f.getAttribute('method') || 'get')).toLowerCase(),
  action: f.getAttribute('hx-post') || f.getAttribute('hx-get') || f.getAttribute('action') || '',
}))"""

FILL_JS = """(form, [values, key]) => {
  const missing = [];
  for (const el of form.elements) {
    if (!el.name || el.disabled || el.type === 'hidden') continue;
    if (el.type === 'radio') {
      const group = form.querySelectorAll(`input[type=radio][name="${el.name}"]`);
      if (![...group].some(r => r.checked)) group[0].checked = true;
      continue;
    }
    if (el.type === 'checkbox') continue;
    if (el.tagName === 'SELECT') {
      if (el.value === '' && el.required && el.options.length > 1) el.selectedIndex = 1;
      continue;
    }
    if (el.value !== '') continue;
    if (el.name === 'public_key') { el.value = key; continue; }
    if (el.name in values) { el.value = values[el.name]; continue; }
    if (el.required) missing.push(el.name);
  }
  // a form whose check boxes are its input (a role's permissions, the alarms to
  // acknowledge at once, the rows carrying form="..."): tick the first
  const boxes = [...form.elements].filter(b => b.type === 'checkbox' && b.name);
  const picking = boxes.some(b => b.name === 'permissions' || b.name === 'ids');
  if (boxes.length && picking && !boxes.some(b => b.checked)) {
    boxes[0].checked = true;
  }
  return missing;
}"""


def _form_key(form: dict[str, Any]) -> str:
    """Forms that differ only by a record's id (ack alarm 17, ack alarm 18) are one form."""
    action = re.sub(r"/\d+(?=/|$)", "/{id}", form["action"])
    return f"{form['method']} {action}"


def submit_forms(page: Any, href: str, problems: Problems, done: set[str]) -> int:
    """Submit every form of the page once (each kind of form once per walk)."""
    submitted = 0
    forms = page.evaluate(FORMS_JS)
    for form in forms:
        key = _form_key(form)
        path = urlparse(form["action"]).path
        if key in done or path in NOT_SUBMITTED:
            continue
        done.add(key)
        if submitted:  # back to the page as it was before the last submission
            _goto(page, href, problems)
        # the same form again (an earlier submission may have changed the list)
        match = next((f for f in page.evaluate(FORMS_JS) if _form_key(f) == key), None)
        if match is None:
            problems.add(f"{href}: form {key} is gone after reloading the page")
            continue
        # the first such form now (an earlier submission may have acted on the one seen)
        path = urlparse(match["action"]).path
        element = page.locator("main form").nth(match["index"])
        missing = element.evaluate(FILL_JS, [FILL, public_key_b64(generate_private_key())])
        if missing:
            problems.add(f"{href}: form {key}: no fill rule for {missing}")
            continue
        method = form["method"].upper()

        def is_answer(response: Any, method: str = method, path: str = path) -> bool:
            return response.request.method == method and urlparse(response.url).path == (
                path or urlparse(page.url).path
            )

        with page.expect_response(is_answer) as answer:
            button = element.locator("button[type=submit], button:not([type]), input[type=submit]")
            visible = [b for b in button.all() if b.is_visible() and b.is_enabled()]
            if visible and not visible[0].get_attribute("name"):
                visible[0].click()
            else:
                element.evaluate("f => f.requestSubmit()")
        status = answer.value.status
        page.wait_for_load_state("load")
        submitted += 1
        if status >= 400:
            problems.add(f"{href}: form {key} answered {status}")
            continue
        error = page.locator("#flash .is-danger, main .notification.is-danger")
        if error.count():
            problems.add(f"{href}: form {key}: {error.first.inner_text()[:200]}")
    return submitted


# ---- language -----------------------------------------------------------------------------

#: where Chinese may show on an English page: data (table cells, choices of mines and
#: units, the user's own name and unit), the language switch's "中文"
DATA = "option, select, input, textarea, .topbar-unit strong, .topbar-user, .lang-form"
CHINESE_JS = """(exempt) => {
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const node = walker.currentNode;
    const text = node.textContent.trim();
    if (!/[\\u3400-\\u9fff]/.test(text)) continue;
    const el = node.parentElement;
    if (!el || el.closest(exempt) || !el.checkVisibility()) continue;
    found.push(text.slice(0, 60));
  }
  if (/[\\u3400-\\u9fff]/.test(document.title)) found.push('<title> ' + document.title);
  return found;
}"""


#: names that are data wherever they show (headings name the mine or unit shown)
NAMES = sorted(
    {name for _, name, *_ in ORGS}
    | {name for _, name, *_ in MINES}
    | {name for _, name, *_ in USERS}
    | {"孙七", "主井皮带秤", *FILL.values()},
    key=len,
    reverse=True,
)


def other_language(page: Any, href: str, problems: Problems) -> None:
    for text in page.evaluate(CHINESE_JS, DATA):
        rest = text
        for name in NAMES:
            rest = rest.replace(name, "")
        if HAN.search(rest):
            problems.add(f"{href}: Chinese on the English page: {text!r}")


# ---- the walk -----------------------------------------------------------------------------


@dataclass
class Walk:
    pages: int = 0
    downloads: int = 0
    forms: int = 0


def walk(
    page: Any,
    problems: Problems,
    tmp: Path,
    *,
    forms: bool = True,
    downloads: bool = True,
    english: bool = False,
) -> Walk:
    done: set[str] = set()
    result = Walk()
    for href in menu(page):
        if not _goto(page, href, problems):
            continue
        result.pages += 1
        if english:
            other_language(page, href, problems)
        if downloads:
            result.downloads += press_downloads(page, href, problems, tmp)
        if forms:
            result.forms += submit_forms(page, href, problems, done)
    return result


def test_administrator_clicks_everything(
    new_page: Any, center: Center, console: Console, tmp_path: Path
) -> None:
    problems = Problems(center.base)
    page = _open(new_page, problems)
    sign_in(page, "admin", ADMIN_PASSWORD)
    result = walk(page, problems, tmp_path)
    problems.check()
    # the walk reached the whole menu (the counts say it did not silently skip)
    assert result.pages >= 40 and result.downloads >= 30 and result.forms >= 30, result


def test_english_and_back(new_page: Any, center: Center, console: Console, tmp_path: Path) -> None:
    problems = Problems(center.base)
    page = _open(new_page, problems)
    sign_in(page, "admin", ADMIN_PASSWORD)
    page.click("button[name=lang][value=en]")
    page.wait_for_load_state("load")
    assert page.inner_text("h1") == "Mine overview"
    result = walk(page, problems, tmp_path, forms=False, downloads=False, english=True)
    page.goto("/monitor")
    page.click("button[name=lang][value=zh_CN]")
    page.wait_for_load_state("load")
    assert page.inner_text("h1") == "矿井总览"
    problems.check()
    assert result.pages >= 40, result


def _navigations(page: Any) -> list[str]:
    seen: list[str] = []
    page.on("framenavigated", lambda f: seen.append(f.url) if f == page.main_frame else None)
    return seen


def forced_change(page: Any, username: str, old: str, wanted: str, problems: Problems) -> None:
    """Sign in wanting a page; the password page stays put and lands on the wanted page."""
    page.goto(wanted)
    page.fill("#username", username)
    page.fill("#password", old)
    page.click("#login")
    page.wait_for_url("**/password**")
    page.wait_for_load_state("load")
    moves = _navigations(page)
    page.wait_for_timeout(1500)  # the page must stay still (a loop reloads it 8 times a second)
    if moves:
        problems.add(f"/password reloads itself: {len(moves)} navigations in 1.5 s: {moves[:3]}")
        problems.check()
    assert "请先修改密码" in page.inner_text("main")
    screenshot(page, f"forced-password-{username}")
    page.fill("#old", old)
    page.fill("#new", NEW_PASSWORD)
    page.fill("#again", NEW_PASSWORD)
    page.click("#change-password")
    page.wait_for_load_state("load")
    assert (
        urlparse(page.url).path
        + ("?" + urlparse(page.url).query if urlparse(page.url).query else "")
        == wanted
    ), f"after the change the user is on {page.url}, not on {wanted}"
    assert "密码已修改" in page.inner_text("#flash")


def test_new_user_changes_the_first_password_and_clicks_everything(
    new_page: Any, center: Center, console: Console, tmp_path: Path
) -> None:
    problems = Problems(center.base)
    admin = _open(new_page, problems)
    sign_in(admin, "admin", ADMIN_PASSWORD)
    admin.click("text=系统设置")
    admin.click("nav.sidebar >> text=用户管理")
    admin.click("#add-user")
    admin.fill("#username", NEW_USER)
    admin.fill("#name", "孙七")
    admin.fill("#number", "0103")
    admin.select_option("#org", "YC")
    admin.check("input[name=roles][value=duty_operator]")
    admin.fill("#password", FIRST_PASSWORD)
    admin.click("#save-user")
    admin.wait_for_url("**/system/users")
    assert NEW_USER in admin.inner_text("main table")

    page = _open(new_page, problems)
    forced_change(page, NEW_USER, FIRST_PASSWORD, "/reports/daily", problems)
    screenshot(page, "daily-report-new-user", full_page=True)
    groups = [g.strip() for g in page.locator(".sidebar summary").all_inner_texts()]
    assert "系统设置" not in groups  # a limited role
    result = walk(page, problems, tmp_path)
    problems.check()
    assert result.pages >= 20 and result.downloads >= 20, result


def test_expired_password_is_changed_without_a_loop(
    new_page: Any, center: Center, console: Console
) -> None:
    """After 90 days the password must be changed: the same page, no loop."""
    engine = make_engine(center.url)
    with transaction(make_sessionmaker(engine)) as session:
        user = repository.user_by_username(session, "zhangsan")
        assert user is not None
        user.password_changed_at = center.clock() - timedelta(days=91)
    engine.dispose()
    problems = Problems(center.base)
    page = _open(new_page, problems)
    forced_change(page, "zhangsan", PASSWORD, "/ledger/duty", problems)
    problems.check()


def test_api_docs_render_the_operations(new_page: Any, center: Center, console: Console) -> None:
    """The interactive API docs work on a closed network under the center's CSP."""
    problems = Problems(center.base)
    page = _open(new_page, problems)
    page.goto("/api/v1/docs")
    try:
        # a generous wait: a 1.5 MB script and the whole schema, on a busy test machine
        page.wait_for_selector(".opblock", timeout=60_000)
    except Exception:
        problems.add("/api/v1/docs shows no operations")
    problems.check()
    # a long schema is drawn only where the reader looks: scroll through it, collecting
    # the operations drawn on the way, until more than fifty are seen
    seen: set[str] = set()
    for _ in range(150):
        seen.update(page.locator(".opblock-summary-path").all_inner_texts())
        if len(seen) > 50:
            break
        page.mouse.wheel(0, 600)
        page.wait_for_timeout(40)
    seen.update(page.locator(".opblock-summary-path").all_inner_texts())
    assert len(seen) > 50, sorted(seen)
    assert "coalwatch monitoring center" in page.inner_text(".information-container")
