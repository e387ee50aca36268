"""The dashboard's figures as the page shows them (numbers in the page's language, channels by name) and as the CSV
exports them (bare numbers, text that never runs as a spreadsheet formula)."""

import csv
import io
from decimal import Decimal

import pytest
from django.utils import translation

from backoffice.insights.figures import Figure, figure_csv


def test_a_table_groups_thousands_keeps_its_decimals_and_names_channels_in_the_page_language():
    figure = Figure(
        "revenue_sales",
        "Revenue",
        "",
        ["channel", "net revenue", "orders", "rate", "cohort"],
        [
            ["store", Decimal("1181.50"), 1223, Decimal("0.4146"), "2025-12"],
            ["total", None, 0, Decimal("-1234567.8"), "2026-01"],
        ],
        channel_columns=(0,),
    )

    with translation.override("es"):
        # A bare 1181.50 would read as 118.150 in Spanish, where the point groups thousands.
        assert figure.display_rows == [
            ["Tienda", "1\xa0181,50", "1\xa0223", "0,4146", "2025-12"],
            ["total", "—", "0", "-1\xa0234\xa0567,8", "2026-01"],
        ]
    with translation.override("en"):
        assert figure.display_rows[0] == ["Store", "1,181.50", "1,223", "0.4146", "2025-12"]
    assert figure.rows[0][:2] == ["store", Decimal("1181.50")]  # the CSV's cells stay codes and bare numbers


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=1", "'\t=1"),
        ("\r=1", "'\r=1"),
        ("Primavera", "Primavera"),
        ("-12.50", "-12.50"),  # a number as text is still a number, never a formula
        (Decimal("-1234.56"), "-1234.56"),
        (-3, "-3"),
        (-0.25, "-0.25"),
        (None, ""),
    ],
)
def test_a_csv_cell_is_a_number_or_text_a_spreadsheet_never_runs(value, written):
    figure = Figure("campaigns", "Campaigns", "", ["name"], [[value]])

    (header, (cell,)) = list(csv.reader(io.StringIO(figure_csv(figure), newline="")))

    assert cell == written
