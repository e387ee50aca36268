"""Inline SVG bar charts for the report page: no script, no CDN, readable without JavaScript and printable."""

from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

FUNNEL_STEPS = ("sent", "delivered", "opened", "clicked", "converted")
COLOURS = ("#417690", "#79aec8", "#5b9b5b", "#e5a03c", "#b94a48")
BAR_H = 18
LABEL_W = 110
WIDTH = 560


def _bars(rows: list[tuple[str, float, str]], *, colour_for=None, title: str) -> SafeString:
    """Horizontal bars: (label, value, shown text), scaled to the largest absolute value."""
    largest = max((abs(value) for _label, value, _text in rows), default=0) or 1
    span = WIDTH - LABEL_W - 90
    has_negative = any(value < 0 for _label, value, _text in rows)
    zero = LABEL_W + (span // 2 if has_negative else 0)
    scale = (span // 2 if has_negative else span) / largest
    parts = [
        f'<svg class="report-chart" role="img" aria-label="{escape(title)}" width="{WIDTH}" '
        f'height="{(BAR_H + 6) * len(rows) + 10}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for index, (label, value, text) in enumerate(rows):
        y = 5 + index * (BAR_H + 6)
        length = abs(value) * scale
        x = zero - length if value < 0 else zero
        colour = colour_for(index, value) if colour_for else COLOURS[0]
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 5}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect x="{x:.1f}" y="{y}" width="{max(length, 1):.1f}" height="{BAR_H}" fill="{colour}">'
            f"<title>{escape(label)}: {escape(text)}</title></rect>"
            f'<text x="{max(x + length, zero) + 4:.1f}" y="{y + BAR_H - 5}" font-size="12">{escape(text)}</text>'
        )
    if has_negative:
        parts.append(f'<line x1="{zero}" x2="{zero}" y1="0" y2="100%" stroke="#999"/>')
    parts.append("</svg>")
    return mark_safe("".join(parts))  # noqa: S308 - every text inside is escaped above


def funnel(channels: list[dict]) -> SafeString:
    rows = []
    for row in channels:
        for step in FUNNEL_STEPS:
            rows.append((f"{row['channel']} · {_(step)}", row.get(step, 0), str(row.get(step, 0))))
    return _bars(rows, colour_for=lambda i, _v: COLOURS[i % len(FUNNEL_STEPS)], title=_("Funnel per channel"))


def lift(data: dict) -> SafeString:
    treated = data.get("treated_conversion_rate") or 0
    holdout = data.get("holdout_conversion_rate") or 0
    rows = [
        (_("treated"), treated * 100, f"{treated * 100:.1f}%"),
        (_("holdout"), holdout * 100, f"{holdout * 100:.1f}%"),
    ]
    return _bars(
        rows, colour_for=lambda i, _v: COLOURS[0] if i == 0 else "#999", title=_("Conversion: treated vs holdout")
    )


def roi(channels: list[dict]) -> SafeString:
    rows = [
        (row["channel"], row["roi"] or 0, "-" if row["roi"] is None else f"{row['roi'] * 100:.0f}%") for row in channels
    ]
    return _bars(rows, colour_for=lambda _i, v: "#5b9b5b" if v >= 0 else "#b94a48", title=_("ROI per channel"))
