"""What a page says of a refused form: the label the form gives a field and what is wrong
with it, in the reader's language (``web/refusals.py``)."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

from pydantic import BaseModel, ValidationError

from coalwatch.web.i18n import translations
from coalwatch.web.refusals import FIELD_LABELS, describe


def test_refusals_read_in_english_too() -> None:
    class Form(BaseModel):
        annual_capacity_t: Decimal
        tested_by: str

    try:
        Form.model_validate({"annual_capacity_t": "abc"})
    except ValidationError as exc:
        errors = exc.errors()
    english = translations("en").gettext
    assert describe(errors, english) == ("Annual capacity (t): enter a number; Tested by: required")


def test_every_labelled_form_field_has_its_label_for_refusals() -> None:
    """A field a form labels (``<label for=id>`` and the input of that id) is named by a
    label in a refusal: a form added without it would say its schema name."""
    package = Path(__file__).resolve().parents[2] / "src" / "coalwatch"
    missing = set()
    for template in package.rglob("templates/**/*.html"):
        text = template.read_text()
        labelled = set(re.findall(r'<label[^>]*\bfor="([^"]+)"', text))
        for attributes in re.findall(r"<(?:input|select|textarea)([^>]*)>", text):
            found_id = re.search(r'\bid="([^"]+)"', attributes)
            name = re.search(r'\bname="([^"]+)"', attributes)
            if found_id and name and found_id.group(1) in labelled:
                missing |= {name.group(1)} - set(FIELD_LABELS)
    assert not missing, sorted(missing)
