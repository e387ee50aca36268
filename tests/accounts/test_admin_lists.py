"""Change lists show a code by its label, in the column and in its filter, and a long id by its first characters."""

import pytest
from django.contrib import admin
from django.test import RequestFactory
from django.utils import translation

from backoffice.accounts.admin_lists import label_of, labelled_filter, short_id
from customers.models import Customer
from customers.wording import CHANNEL_LABELS
from tests.factories import CustomerFactory


def test_a_long_id_shows_its_first_characters_and_the_whole_id_on_hover():
    whole = "58bf3267-ca21-4524-aead-1a637168486e"

    assert short_id(whole) == f'<span title="{whole}">58bf3267…</span>'
    assert short_id(whole, "/admin/x/") == f'<a href="/admin/x/" title="{whole}">58bf3267…</a>'
    assert short_id("W-1001") == '<span title="W-1001">W-1001</span>'  # short enough as it is
    assert short_id('"><script>') == '<span title="&quot;&gt;&lt;script&gt;">&quot;&gt;&lt;script&gt;</span>'


def test_a_code_reads_as_its_label_in_the_page_language():
    with translation.override("es"):
        assert label_of("store", CHANNEL_LABELS) == "Tienda"
        assert label_of("fax", CHANNEL_LABELS) == "fax"  # a code no label knows: as it is
        assert label_of("", CHANNEL_LABELS) == "-"


@pytest.mark.django_db
def test_the_filter_offers_labels_in_order_and_filters_by_the_code():
    CustomerFactory(name="Ana", channel="store")
    CustomerFactory(name="Eva", channel="web")
    chosen = labelled_filter("acquisition_channel", "acquisition channel", CHANNEL_LABELS)
    request = RequestFactory().get("/", {"acquisition_channel": "store"})

    shown = chosen(request, dict(request.GET.lists()), Customer, admin.site._registry[Customer])

    with translation.override("es"):
        assert [str(label) for _code, label in shown.lookup_choices][:3] == ["Web", "App", "Tienda"]
    assert [c.display_name for c in shown.queryset(request, Customer.objects.all())] == ["Ana"]
    everyone = chosen(RequestFactory().get("/"), {}, Customer, admin.site._registry[Customer])
    assert everyone.queryset(request, Customer.objects.order_by("display_name")).count() == 2


def test_a_moment_in_a_change_list_reads_as_the_staff_pages_write_it(settings):
    from datetime import UTC, datetime

    from django.utils import formats, timezone

    settings.TIME_ZONE = "Europe/Madrid"
    moment = timezone.template_localtime(datetime(2026, 12, 6, 22, 55, tzinfo=UTC))

    with translation.override("es"):
        assert formats.localize(moment) == "6 Dic 2026, 23:55"  # not "6 de diciembre de 2026 a las 23:55"
    with translation.override("en"):
        assert formats.localize(moment) == "6 Dec 2026, 23:55"


def test_a_labelled_column_shows_the_label_and_sorts_by_the_code():
    from types import SimpleNamespace

    from backoffice.accounts.admin_lists import labelled_column

    column = labelled_column("channel", "channel", CHANNEL_LABELS)

    with translation.override("es"):
        assert column(None, SimpleNamespace(channel="phone")) == "Teléfono"
        assert column(None, SimpleNamespace(channel="")) == "-"
    assert (column.admin_order_field, column.short_description) == ("channel", "channel")
