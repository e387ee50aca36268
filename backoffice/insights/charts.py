"""Charts as inline SVG drawn on the server: no script, no CDN, readable without JavaScript and printable, and the
numbers are the ones in the table next to each chart. Every text that goes into the SVG is escaped. The one chart
module of the product: the dashboard's figures and the campaign report draw with it."""

from decimal import Decimal

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

PALETTE = ("#2b6cb0", "#c05621", "#2f855a", "#b83280", "#6b46c1", "#975a16", "#00838f", "#c53030", "#4a5568", "#718096")
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 56, 36, 12


def _number(value) -> float:
    return float(value) if value is not None else 0.0


def _svg(name: str, body: str, height: int = HEIGHT, *, title: str = "") -> SafeString:
    return format_html(
        '<svg class="insights-chart" data-chart="{}" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}" xmlns="http://www.w3.org/2000/svg">{}</svg>',
        name,
        WIDTH,
        height,
        title or name,
        mark_safe(body),  # noqa: S308 - built below from escaped parts only
    )


def _axis(top: float) -> str:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = [f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{HEIGHT - PAD_BOTTOM}" stroke="#999"/>']
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - PAD_BOTTOM - plot_h * i / 4
        parts.append(f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{WIDTH}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(f'<text x="{PAD_LEFT - 4}" y="{y + 4:.1f}" font-size="10" text-anchor="end">{value:,.0f}</text>')
    return "".join(parts)


def bar_chart(name: str, rows: list[tuple[str, Decimal | None]]) -> SafeString:
    """One bar per label (channel, store...)."""
    values = [_number(v) for _, v in rows]
    top = max([abs(v) for v in values] + [1e-9])
    plot_w, plot_h = WIDTH - PAD_LEFT - 8, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(rows), 1)
    parts = [_axis(top)]
    for i, ((label, raw), value) in enumerate(zip(rows, values, strict=True)):
        h = plot_h * max(value, 0) / top
        x = PAD_LEFT + 4 + i * step
        y = HEIGHT - PAD_BOTTOM - h
        parts.append(
            f'<rect class="bar" data-label="{escape(label)}" data-value="{escape(raw if raw is not None else "")}" '
            f'x="{x:.1f}" y="{y:.1f}" width="{step * 0.7:.1f}" height="{h:.1f}" fill="{PALETTE[i % len(PALETTE)]}">'
            f"<title>{escape(label)}: {escape(raw if raw is not None else '-')}</title></rect>"
        )
        parts.append(
            f'<text x="{x + step * 0.35:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" font-size="11" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    return _svg(name, "".join(parts))


def line_chart(name: str, labels: list[str], series: dict[str, list[Decimal]]) -> SafeString:
    """One line per series over the labels (months)."""
    top = max([abs(_number(v)) for values in series.values() for v in values] + [1e-9])
    plot_w, plot_h = WIDTH - PAD_LEFT - 90, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(labels) - 1, 1)
    parts = [_axis(top)]
    for i, label in enumerate(labels):
        parts.append(
            f'<text x="{PAD_LEFT + i * step:.1f}" y="{HEIGHT - PAD_BOTTOM + 14}" font-size="9" '
            f'text-anchor="middle">{escape(label)}</text>'
        )
    for n, (series_name, values) in enumerate(series.items()):
        colour = PALETTE[n % len(PALETTE)]
        points = " ".join(
            f"{PAD_LEFT + i * step:.1f},{HEIGHT - PAD_BOTTOM - plot_h * max(_number(v), 0) / top:.1f}"
            for i, v in enumerate(values)
        )
        parts.append(
            f'<polyline class="line" data-series="{escape(series_name)}" points="{points}" fill="none" '
            f'stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{WIDTH - 84}" y="{PAD_TOP + 12 + n * 13}" font-size="11" fill="{colour}">'
            f"{escape(series_name)}</text>"
        )
    return _svg(name, "".join(parts))


def heat_map(name: str, cohorts: list[dict]) -> SafeString:
    """Cohorts down, months since the first purchase across; the darker, the larger the share buying again."""
    cell_w, cell_h, left, top_pad = 44, 20, 110, 18
    months = len(cohorts[0]["retention"]) if cohorts else 12
    height = top_pad + cell_h * max(len(cohorts), 1) + 4
    parts = [
        f'<text x="{left + i * cell_w + cell_w / 2}" y="12" font-size="10" text-anchor="middle">+{i + 1}</text>'
        for i in range(months)
    ]
    for r, cohort in enumerate(cohorts):
        y = top_pad + r * cell_h
        parts.append(
            f'<text x="4" y="{y + 14}" font-size="11">{escape(cohort["cohort"])} ({cohort["customers"]})</text>'
        )
        for i, share in enumerate(cohort["retention"]):
            x = left + i * cell_w
            if share is None:
                fill, text = "#f7f7f7", ""
            else:
                alpha = min(max(float(share), 0.0), 1.0)
                fill, text = f"rgba(43,108,176,{0.08 + 0.92 * alpha:.2f})", f"{float(share) * 100:.0f}%"
            parts.append(
                f'<rect class="cell" data-cohort="{escape(cohort["cohort"])}" data-month="{i + 1}" '
                f'data-value="{escape(share if share is not None else "")}" x="{x}" y="{y}" width="{cell_w - 2}" '
                f'height="{cell_h - 2}" fill="{fill}"/>'
                f'<text x="{x + cell_w / 2 - 1}" y="{y + 14}" font-size="10" text-anchor="middle">{text}</text>'
            )
    return _svg(name, "".join(parts), height=height)


BAR_H, LABEL_W = 18, 150


def hbar_chart(name: str, rows: list[tuple[str, float, str]], *, colour_for=None, title: str = "") -> SafeString:
    """Horizontal bars, one a row: (label, value, shown text), scaled to the largest absolute value; negative values
    (a ROI under zero) grow left of a zero line."""
    largest = max((abs(value) for _label, value, _text in rows), default=0) or 1
    span = WIDTH - LABEL_W - 90
    has_negative = any(value < 0 for _label, value, _text in rows)
    zero = LABEL_W + (span // 2 if has_negative else 0)
    scale = (span // 2 if has_negative else span) / largest
    parts = []
    for index, (label, value, text) in enumerate(rows):
        y = 5 + index * (BAR_H + 6)
        length = abs(value) * scale
        x = zero - length if value < 0 else zero
        colour = colour_for(index, value) if colour_for else PALETTE[0]
        parts.append(
            f'<text x="{LABEL_W - 6}" y="{y + BAR_H - 5}" text-anchor="end" font-size="12">{escape(label)}</text>'
            f'<rect class="bar" data-label="{escape(label)}" data-value="{escape(text)}" x="{x:.1f}" y="{y}" '
            f'width="{max(length, 1):.1f}" height="{BAR_H}" fill="{colour}">'
            f"<title>{escape(label)}: {escape(text)}</title></rect>"
            f'<text x="{max(x + length, zero) + 4:.1f}" y="{y + BAR_H - 5}" font-size="12">{escape(text)}</text>'
        )
    if has_negative:
        parts.append(f'<line x1="{zero}" x2="{zero}" y1="0" y2="100%" stroke="#999"/>')
    return _svg(name, "".join(parts), height=(BAR_H + 6) * len(rows) + 10, title=title)


# --- The campaign report ------------------------------------------------------------------------------------------

FUNNEL_STEPS = (("sent", "sent"), ("delivered", "delivered"), ("read", "opened"), ("clicked", "clicked"))


def _positive_or_not(_index: int, value: float) -> str:
    return PALETTE[2] if value >= 0 else PALETTE[7]


def campaign_funnel(channels: list[dict]) -> SafeString:
    rows = []
    for row in channels:
        steps = [(key, label) for key, label in FUNNEL_STEPS] + [("converted", "converted")]
        rows.extend((f"{row['channel']} · {_(label)}", row[key], str(row[key])) for key, label in steps)
    return hbar_chart(
        "campaign_funnel",
        rows,
        colour_for=lambda i, _v: PALETTE[i % (len(FUNNEL_STEPS) + 1)],
        title=_("Funnel per channel"),
    )


def campaign_lift(lift: dict) -> SafeString:
    treated = float(lift.get("treated_conversion_rate") or 0)
    holdout = float(lift.get("holdout_conversion_rate") or 0)
    rows = [
        (_("treated"), treated * 100, f"{treated * 100:.1f}%"),
        (_("holdout"), holdout * 100, f"{holdout * 100:.1f}%"),
    ]
    return hbar_chart(
        "campaign_lift",
        rows,
        colour_for=lambda i, _v: PALETTE[0] if i == 0 else PALETTE[8],
        title=_("Conversion: treated vs holdout"),
    )


def lift_per_campaign(lifts: list[dict]) -> SafeString:
    """The dashboard's lift of each campaign, in share points; a campaign that did worse than its holdout shows left."""
    rows = [
        (
            row["name"] or row["campaign"][:8],
            float(row["lift"] or 0) * 100,
            "-" if row["lift"] is None else f"{float(row['lift']) * 100:.1f}",
        )
        for row in lifts
    ]
    return hbar_chart("campaign_lift", rows, colour_for=_positive_or_not, title=_("Lift against the holdout"))


def campaign_roi(channels: list[dict], *, name: str = "campaign_roi") -> SafeString:
    rows = [
        (row["channel"], float(row["roi"] or 0), "-" if row["roi"] is None else f"{float(row['roi']) * 100:.0f}%")
        for row in channels
    ]
    return hbar_chart(name, rows, colour_for=_positive_or_not, title=_("ROI per channel"))
