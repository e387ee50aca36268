"""The staff pages' text filters."""

from django.template import Context, Template


def test_an_address_gets_its_break_opportunities_between_its_parts_and_stays_escaped():
    rendered = Template("{% load staff_text %}{{ value|wrappable }}").render(
        Context({"value": "ana.gil+promo@example.es<b>"})
    )

    assert rendered == "ana<wbr>.gil<wbr>+promo@<wbr>example<wbr>.es&lt;b&gt;"
    assert Template("{% load staff_text %}{{ value|wrappable }}").render(Context({"value": None})) == ""
