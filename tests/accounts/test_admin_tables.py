"""Admin pages show rows (an order's lines, a case's thread, a message's events) in one table markup: cells escaped,
code cells kept as code, a header row only when columns are named."""

from datetime import UTC, datetime

from backoffice.accounts.admin_tables import code_html, local_minute, table_html


def test_cells_are_escaped_and_a_code_cell_is_kept_as_code():
    html = table_html([("<b>x</b>", 2, code_html({"a": "<1>"}))])

    assert html == (
        "<table><tr><td>&lt;b&gt;x&lt;/b&gt;</td><td>2</td>"
        "<td><code>{&#x27;a&#x27;: &#x27;&lt;1&gt;&#x27;}</code></td></tr></table>"
    )


def test_a_header_row_is_drawn_only_when_columns_are_named():
    assert table_html([], header=("SKU", "quantity")) == "<table><tr><th>SKU</th><th>quantity</th></tr></table>"
    assert table_html([]) == "<table></table>"


def test_a_moment_reads_in_local_time_to_the_minute(settings):
    settings.TIME_ZONE = "Europe/Madrid"

    assert local_minute(datetime(2026, 7, 1, 10, 0, 59, tzinfo=UTC)) == "2026-07-01 12:00"
