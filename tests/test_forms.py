"""Every shipped form definition loads and is internally consistent."""

from __future__ import annotations

import pytest

from piasite.forms import FormError, parse_form, shipped_forms
from piasite.model import VALUE_KINDS


def test_shipped_forms_load():
    forms = shipped_forms()
    assert "kiso-r7-05" in forms
    for form in forms.values():
        ids = [n.id for n in form.walk()]
        assert len(ids) == len(set(ids)), form.id


@pytest.mark.parametrize("form_id", sorted(shipped_forms()))
def test_every_value_node_has_a_key_and_selects_have_choices(form_id):
    form = shipped_forms()[form_id]
    for n in form.walk():
        if n.kind in VALUE_KINDS:
            assert n.key, n.id
        if n.kind == "select":
            assert n.choices and n.choices.options, n.id


def test_kiso_form_order_and_numbering():
    form = shipped_forms()["kiso-r7-05"]
    top = [(n.no, n.label) for n in form.nodes]
    assert top[1:] == [("I", "関連情報"), ("II", "しきい値判断項目"), ("III", "しきい値判断結果"),
                       ("IV", "リスク対策")]
    assert [c.id for c in form.node("IV").children][-1] == "IV-11"
    assert form.tag == "[令和7年5月 様式2]"


def test_a_node_under_a_value_node_is_rejected():
    data = {"form": {"id": "x", "kind": "kiso", "name": "n", "title": "t", "yoshiki": "様式2",
                     "edition": "e"},
            "node": [{"id": "A", "kind": "text", "key": "a", "label": "A"},
                     {"id": "A-1", "kind": "text", "key": "b", "label": "B"}]}
    with pytest.raises(FormError):
        parse_form(data)
