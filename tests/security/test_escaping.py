"""Nothing a user or a station typed is ever marked safe: a lint over the templates and the
code of the package.

- no ``|safe``, no ``Markup``, no ``{% autoescape false %}``;
- no gettext (``_()``, ``gettext()``, ``ngettext()``) around anything but a literal: jinja's
  gettext returns Markup, so ``_(role.name)`` once rendered a role name as HTML. A label
  held in data goes through the ``label`` filter (or ``page.label()``), which translates
  the labels the application defines and returns plain text that autoescape escapes.

The allow-list below holds the reviewed exceptions; each says why it is safe.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from coalwatch.web.pages import environment

PACKAGE = Path(__file__).resolve().parents[2] / "src" / "coalwatch"
GETTEXT = {"_", "gettext", "ngettext", "pgettext", "npgettext", "lazy_gettext"}

#: (file relative to the package, what) → why it is safe
ALLOWED = {
    # CSS font names of PDF documents: a constant of adapters/documents.py
    ("adapters/templates/documents/base.html", "|safe"): "CJK_FONTS is a constant",
    # the translation functions themselves: they translate whatever they are given and
    # return plain str (never Markup)
    ("web/i18n.py", "gettext in Formats.gettext"): "the translation function",
    ("web/i18n.py", "gettext in Formats.label"): "plain str, escaped by the templates",
    ("web/pages.py", "gettext in Page._"): "the translation function of views",
    ("web/pages.py", "gettext in _text_gettext.gettext"): "the templates' _(): plain str",
    # texts composed from the application's own message ids (alarm details, units, error
    # messages); the values put into them are never translated, and the result is plain str
    ("domain/alarms.py", "gettext in compose_detail"): "message ids of DETAILS",
    ("domain/alarms.py", "gettext in compose_phenomenon"): "alarm labels, message ids",
    ("domain/alarms.py", "gettext in shown_figure"): "unit and health labels",
    ("domain/alarms.py", "gettext in figure_unit"): "unit labels",
    ("errors.py", "gettext in CoalwatchError.translated"): "the error's own message id",
    ("alarms/views.py", "gettext in _export.label"): "severity and state labels by code",
    # a refused form's message: the module's own labels and message ids; what was posted
    # (a field name, a validator's text) is never translated, and the result is plain str
    ("web/refusals.py", "gettext in describe"): "the separator, a message id",
    ("web/refusals.py", "gettext in _one"): "field labels and refusals, message ids",
}

#: also ``fmt.gettext(x)`` and ``page._(x)``: data is never translated by gettext
TEMPLATE_GETTEXT = re.compile(r"(?<!\w)(?:_|n?gettext|n?pgettext)\(\s*(?![\"'])")
SAFE_FILTER = re.compile(r"\|\s*safe\b")
NO_AUTOESCAPE = re.compile(r"{%-?\s*autoescape\s+(false|False)")


def _templates() -> list[Path]:
    return sorted(PACKAGE.glob("**/templates/**/*.html"))


def _sources() -> list[Path]:
    return sorted(p for p in PACKAGE.glob("**/*.py") if "/static/" not in str(p))


def _template_findings(path: Path) -> list[tuple[str, str]]:
    rel = str(path.relative_to(PACKAGE))
    found = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if SAFE_FILTER.search(line):
            found.append((rel, "|safe", number))
        if "Markup" in line:
            found.append((rel, "Markup", number))
        if NO_AUTOESCAPE.search(line):
            found.append((rel, "autoescape false", number))
        if TEMPLATE_GETTEXT.search(line):
            found.append((rel, "gettext of a variable", number))
    return [(f"{rel}:{n}", what) for rel, what, n in found if (rel, what) not in ALLOWED]


class _Calls(ast.NodeVisitor):
    def __init__(self, rel: str) -> None:
        self.rel = rel
        self.scope: list[str] = []
        self.found: list[tuple[str, str]] = []

    def _visit_scope(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = _visit_scope
    visit_FunctionDef = _visit_scope
    visit_AsyncFunctionDef = _visit_scope

    def _report(self, node: ast.AST, what: str) -> None:
        where = ".".join(self.scope[-2:]) if self.scope else "<module>"
        key = (self.rel, f"{what} in {where}")
        if key not in ALLOWED:
            self.found.append((f"{self.rel}:{getattr(node, 'lineno', 0)}", key[1]))

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name in GETTEXT and node.args:
            first = node.args[0]
            if not (isinstance(first, ast.Constant) and isinstance(first.value, str)):
                self._report(node, "gettext")
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id == "Markup":
            self._report(node, "Markup")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if node.attr == "Markup":
            self._report(node, "Markup")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module == "markupsafe" or any(a.name == "Markup" for a in node.names):
            self._report(node, "Markup")


def _source_findings(path: Path) -> list[tuple[str, str]]:
    calls = _Calls(str(path.relative_to(PACKAGE)))
    calls.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
    return calls.found


def test_no_template_marks_data_safe() -> None:
    templates = _templates()
    assert len(templates) > 50, "the templates were not found"
    found = [f for path in templates for f in _template_findings(path)]
    assert found == [], "use the label filter / plain {{ value }}:\n" + "\n".join(map(str, found))


def test_no_code_marks_data_safe_or_translates_it_with_gettext() -> None:
    found = [f for path in _sources() for f in _source_findings(path)]
    assert found == [], "use page.label() / fmt.label():\n" + "\n".join(map(str, found))


def test_every_allowed_exception_still_exists() -> None:
    """A reviewed exception that no longer occurs leaves the list (it stays small)."""
    seen: set[tuple[str, str]] = set()
    for path in _templates():
        rel = str(path.relative_to(PACKAGE))
        if SAFE_FILTER.search(path.read_text(encoding="utf-8")):
            seen.add((rel, "|safe"))
    for path in _sources():
        calls = _Calls(str(path.relative_to(PACKAGE)))
        calls.found = []
        allowed_before = dict(ALLOWED)
        ALLOWED.clear()
        try:
            calls.visit(ast.parse(path.read_text(encoding="utf-8")))
        finally:
            ALLOWED.update(allowed_before)
        seen.update((calls.rel, what) for _, what in calls.found)
    assert set(ALLOWED) <= seen, set(ALLOWED) - seen


def test_the_lint_catches_what_it_is_for() -> None:
    """The patterns find the forms of the bug (so a passing lint means something)."""
    for bad in ("{{ _(r.name) }}", "{{ fmt.gettext(x) }}", "{{ x|safe }}", "{{ x | safe }}"):
        assert TEMPLATE_GETTEXT.search(bad) or SAFE_FILTER.search(bad), bad
    for good in ('{{ _("角色") }}', "{{ r.name|label }}", '{{ _("共 %(n)s 条", n=x) }}'):
        assert not TEMPLATE_GETTEXT.search(good) and not SAFE_FILTER.search(good), good
    calls = _Calls("x.py")
    calls.visit(ast.parse("_(a.label)\npage.fmt.gettext(x)\n_('ok')\nMarkup('<b>')\n"))
    assert [what for _, what in calls.found] == [
        "gettext in <module>",
        "gettext in <module>",
        "Markup in <module>",
    ]


def test_the_templates_gettext_and_label_give_escaped_text() -> None:
    """Even a ``_(variable)`` that slipped past the lint would be escaped: the pages'
    gettext returns plain text; and ``label`` translates a known label only."""
    hostile = '"><svg onload=alert(1)>'
    for language in ("zh_CN", "en"):
        env = environment(language)
        page = env.from_string("{{ _(x) }}|{{ x|label }}|{{ role_label('r', x) }}")
        out = page.render(x=hostile)
        assert "<svg" not in out and out.count("&lt;svg onload=alert(1)&gt;") == 3, out
    en = environment("en")
    # 系统管理员 is a built-in role's name (admin): translated; the same name on another
    # role code is an administrator's text and stays as typed
    out = en.from_string("{{ role_label('admin', n) }}|{{ role_label('x', n) }}").render(
        n="系统管理员"
    )
    assert out.split("|")[1] == "系统管理员" and out.split("|")[0] != "系统管理员", out
