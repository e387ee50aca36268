"""The dashboard's figures as the page shows them: numbers in the page's language, channels by name."""

from decimal import Decimal

from django.utils import translation

from backoffice.insights.figures import Figure


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
