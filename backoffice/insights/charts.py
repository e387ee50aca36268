"""Charts as inline SVG drawn on the server: no script, no CDN, readable without JavaScript and printable, and the
numbers are the ones in the table next to each chart. Every text that goes into the SVG is escaped. The one chart
module of the product: the dashboard's figures and the campaign report draw with it.

What keeps them readable: categories are horizontal bars (the label on its own line above the bar, the value and its
unit beside it, laid out in shares of the width so a phone draws them at full text size); line charts and the heat
map are drawn twice, for a desktop and for a phone; a label longer than its room is shortened with "…" and said in
full on hover; axis values are compact (1,2 k); a channel has the same colour in every chart
(customers.wording.CHANNEL_COLOURS, the colours of the staff pages' channel icons); no data draws a sentence that
says what to do, not an empty frame."""

from decimal import Decimal

from django.utils.formats import number_format
from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from customers.wording import CHANNEL_COLOURS, channel_colour, channel_label

PALETTE = ("#0b5cad", "#c05621", "#2f855a", "#b83280", "#6b46c1", "#975a16", "#00838f", "#c53030", "#4a5568", "#718096")
INK, MUTED, POSITIVE, NEGATIVE = "#1c2430", "#4a5568", "#2f855a", "#c53030"
WIDTH, HEIGHT, PAD_LEFT, PAD_BOTTOM, PAD_TOP = 640, 220, 56, 36, 12
FONT = 13
# Width of one character in em, on the wide side (DejaVu Sans, Debian's default): labels are sized with it, so a
# label never runs past its room in any of the fonts a browser picks.
CHAR_EM = 0.64


def _number(value) -> float:
    return float(value) if value is not None else 0.0


def text_width(text: str, size: int = FONT) -> float:
    return len(text) * size * CHAR_EM


def fit(text: str, room: float, size: int = FONT) -> str:
    """The text, shortened with "…" to fit `room` pixels."""
    most = max(int(room / (size * CHAR_EM)), 1)
    return text if len(text) <= most else text[: max(most - 1, 1)] + "…"


def value_text(value, unit: str, *, missing: str = "–") -> str:
    """A value as staff read it: 1.234,50 €, 37,5 %, 12 (the page's language); `missing` when it is undefined."""
    if value is None:
        return missing
    if unit == "%":
        return f"{number_format(Decimal(str(value)) * 100, 1, use_l10n=True)} %"
    if unit == "€":
        return f"{number_format(Decimal(str(value)), 2, use_l10n=True, force_grouping=True)} €"
    if unit == "min":
        return f"{number_format(Decimal(str(value)), 0, use_l10n=True, force_grouping=True)} min"
    return number_format(
        Decimal(str(value)), 0 if Decimal(str(value)) == int(value) else 2, use_l10n=True, force_grouping=True
    )


def compact(value: float) -> str:
    """Axis ticks: 950, 1,2 k, 3,4 M."""
    for size, suffix in ((1e6, " M"), (1e3, " k")):
        if abs(value) >= size:
            return number_format(round(value / size, 1), 1, use_l10n=True).replace(",0", "").replace(".0", "") + suffix
    return number_format(round(value), 0, use_l10n=True)


def colour_of(label: str, index: int) -> str:
    return CHANNEL_COLOURS.get(label) or PALETTE[index % len(PALETTE)]


def empty(name: str) -> SafeString:
    return format_html(
        '<p class="chart-empty" data-chart="{}" role="note">{}</p>',
        name,
        _("No data in this period: widen the range."),
    )


def _svg(name: str, body: str, height: float = HEIGHT, *, title: str = "", width: int = WIDTH) -> SafeString:
    return format_html(
        '<svg class="insights-chart" data-chart="{}" viewBox="0 0 {} {}" width="100%" role="img" '
        'aria-label="{}" xmlns="http://www.w3.org/2000/svg">{}</svg>',
        name,
        width,
        f"{height:.0f}",
        title or name,
        mark_safe(body),  # noqa: S308 - built below from escaped parts only
    )


def _axis(top: float, width: int = WIDTH) -> str:
    plot_h = HEIGHT - PAD_BOTTOM - PAD_TOP
    parts = [f'<line x1="{PAD_LEFT}" y1="{PAD_TOP}" x2="{PAD_LEFT}" y2="{HEIGHT - PAD_BOTTOM}" stroke="#999"/>']
    for i in range(5):
        value = top * i / 4
        y = HEIGHT - PAD_BOTTOM - plot_h * i / 4
        parts.append(f'<line x1="{PAD_LEFT}" y1="{y:.1f}" x2="{width}" y2="{y:.1f}" stroke="#eee"/>')
        parts.append(
            f'<text class="tick" x="{PAD_LEFT - 6}" y="{y + 4:.1f}" font-size="11" text-anchor="end">'
            f"{escape(compact(value))}</text>"
        )
    return "".join(parts)


BAR_H, GAP, LABEL_H = 18, 10, 17
# Bars take at most this share of the chart's width; the rest is room for the value beside the longest one.
BAR_SHARE = 70.0
# A label is shortened to what a phone's chart (about 300 px wide) shows on one line; the full text is on hover.
LABEL_ROOM = 300


def hbar_chart(
    name: str,
    rows: list[tuple[str, float, str]],
    *,
    colour_for=None,
    title: str = "",
    keys: list[str] | None = None,
    data_values: list[str] | None = None,
) -> SafeString:
    """Horizontal bars, one a row: (label, value, shown text), scaled to the largest absolute value; negative values
    (a ROI under zero) grow left of a zero line. `keys` go into data-label (a channel code while the label is its
    name). The label sits on its own line above its bar and the shown text beside the bar; positions are shares of
    the chart's width and the text keeps its pixel size, so the same chart reads on a phone (390 px) and a desktop
    without shrinking or scrolling."""
    if not rows:
        return empty(name)
    keys = keys or [label for label, _value, _text in rows]
    data_values = data_values or [text for _l, _v, text in rows]
    largest = max((abs(value) for _label, value, _text in rows), default=0) or 1
    has_negative = any(value < 0 for _label, value, _text in rows)
    zero = BAR_SHARE / 2 if has_negative else 0.0
    scale = (BAR_SHARE / 2 if has_negative else BAR_SHARE) / largest
    step = LABEL_H + BAR_H + GAP
    parts = []
    for index, ((label, value, text), key, data_value) in enumerate(zip(rows, keys, data_values, strict=True)):
        top = 4 + index * step
        y = top + LABEL_H
        length = abs(value) * scale
        x = zero - length if value < 0 else zero
        colour = colour_for(index, value) if colour_for else colour_of(key, index)
        parts.append(
            f'<text class="label" x="1" y="{top + 13}" font-size="{FONT}">'
            f"{escape(fit(label, LABEL_ROOM))}<title>{escape(label)}</title></text>"
            f'<rect class="bar" data-label="{escape(key)}" data-value="{escape(data_value)}" x="{x:.2f}%" y="{y}" '
            f'width="{max(length, 0.3):.2f}%" height="{BAR_H}" rx="3" fill="{colour}">'
            f"<title>{escape(label)}: {escape(text)}</title></rect>"
            f'<text class="value" x="{max(x + length, zero):.2f}%" dx="5" y="{y + BAR_H - 4}" font-size="{FONT}">'
            f"{escape(text)}</text>"
        )
    if has_negative:
        parts.append(f'<line x1="{zero:.2f}%" x2="{zero:.2f}%" y1="0" y2="100%" stroke="#999"/>')
    height = step * len(rows) + 4
    return format_html(
        '<svg class="insights-chart insights-chart--bars" data-chart="{}" width="100%" height="{}" role="img" '
        'aria-label="{}" xmlns="http://www.w3.org/2000/svg">{}</svg>',
        name,
        height,
        title or name,
        mark_safe("".join(parts)),  # noqa: S308 - built above from escaped parts only
    )


def bar_chart(
    name: str, rows: list[tuple[str, Decimal | None]], *, unit: str = "", title: str = "", missing: str | None = None
) -> SafeString:
    """One bar per label (channel, store...), the value and its unit beside it. A channel code shows as its name in
    its colour; data-value keeps the exact figure of the table. An undefined value reads `missing` (a reason: the
    bars are drawn even when every value is undefined), or "–" (and no value at all is an empty chart)."""
    if not rows or (missing is None and all(value is None for _label, value in rows)):
        return empty(name)
    return hbar_chart(
        name,
        [
            (channel_label(label) or label, _number(value), value_text(value, unit, missing=missing or "–"))
            for label, value in rows
        ],
        keys=[label for label, _value in rows],
        data_values=["" if value is None else str(value) for _label, value in rows],
        title=title,
    )


# A phone's chart box is about 330 px wide: the narrow drawings are made for it (drawn at about their own size).
NARROW = 330


def wide_and_narrow(wide: SafeString, narrow: SafeString) -> SafeString:
    """Both drawings of a chart: the page's stylesheet shows the wide one on a desktop and the narrow one on a phone,
    so neither shrinks its text nor scrolls."""
    return format_html(
        "{}{}",
        mark_safe(wide.replace('class="insights-chart"', 'class="insights-chart insights-chart--wide"', 1)),  # noqa: S308
        mark_safe(narrow.replace('class="insights-chart"', 'class="insights-chart insights-chart--narrow"', 1)),  # noqa: S308
    )


def line_chart(
    name: str,
    labels: list[str],
    series: dict[str, list[Decimal]],
    *,
    unit: str = "",
    partial: tuple[bool, bool] = (False, False),
) -> SafeString:
    """One line per series over the labels (months): a channel in its colour, the total in ink; the legend under
    the plot; month labels thinned so they never overlap. Drawn twice: for a desktop and for a phone.

    `partial`: whether the first and the last month are only partly in the range. The segment reaching such a month is
    dashed, and the legend says why: a month of 7 days read as a fall in sales when it was drawn like the others."""
    if not labels or not any(_number(v) for values in series.values() for v in values):
        return empty(name)
    return wide_and_narrow(
        _line_chart(name, labels, series, unit=unit, partial=partial),
        _line_chart(f"{name}-phone", labels, series, unit=unit, width=NARROW, partial=partial),
    )


def _legend_slot(x: float, y: float, item_width: float, width: int) -> tuple[float, float]:
    """Where the legend's next item goes: on this line, or first on the next when it would run past the chart."""
    return (PAD_LEFT, y + 18) if x + item_width > width else (x, y)


def _polyline(points: list[str], colour: str, stroke: int, css_class: str, extra: str = "") -> str:
    return (
        f'<polyline class="{css_class}" points="{" ".join(points)}" fill="none" stroke="{colour}" '
        f'stroke-width="{stroke}"{extra}'
    )


def _line_chart(
    name: str,
    labels: list[str],
    series: dict[str, list[Decimal]],
    *,
    unit: str,
    width: int = WIDTH,
    partial: tuple[bool, bool] = (False, False),
) -> SafeString:
    top = max([abs(_number(v)) for values in series.values() for v in values] + [1e-9])
    plot_w, plot_h = width - PAD_LEFT - 16, HEIGHT - PAD_BOTTOM - PAD_TOP
    step = plot_w / max(len(labels) - 1, 1)
    every = max(1, int(-(-text_width(max(labels, key=len), 11) // max(step, 1))) + (1 if step < 48 else 0))
    parts = [_axis(top, width)]
    for i, label in enumerate(labels):
        if i % every and i != len(labels) - 1:
            continue
        anchor = "start" if i == 0 else ("end" if i == len(labels) - 1 else "middle")
        parts.append(
            f'<text class="label" x="{PAD_LEFT + i * step:.1f}" y="{HEIGHT - PAD_BOTTOM + 15}" font-size="11" '
            f'text-anchor="{anchor}">{escape(label)}</text>'
        )
    legend_x, legend_y = PAD_LEFT, HEIGHT + 6
    # The solid line joins the whole months; a dashed segment reaches a month only partly in the range.
    first = 1 if partial[0] and len(labels) > 1 else 0
    last = len(labels) - 2 if partial[1] and len(labels) > 1 else len(labels) - 1
    for n, (series_name, values) in enumerate(series.items()):
        colour = CHANNEL_COLOURS.get(series_name) or (INK if n == 0 else PALETTE[n % len(PALETTE)])
        stroke = 3 if n == 0 else 2
        points = [
            f"{PAD_LEFT + i * step:.1f},{HEIGHT - PAD_BOTTOM - plot_h * max(_number(v), 0) / top:.1f}"
            for i, v in enumerate(values)
        ]
        title = "; ".join(f"{m}: {value_text(v, unit)}" for m, v in zip(labels, values, strict=False))
        parts.append(
            _polyline(points[first : last + 1], colour, stroke, "line", f' data-series="{escape(series_name)}"')
            + f"><title>{escape(title)}</title></polyline>"
        )
        for start in ([0] if first else []) + ([last] if last < len(labels) - 1 else []):
            parts.append(
                _polyline(points[start : start + 2], colour, stroke, "line-partial", ' stroke-dasharray="5 4"') + "/>"
            )
        shown = channel_label(series_name) or series_name
        item_w = text_width(shown, 12) + 26
        legend_x, legend_y = _legend_slot(legend_x, legend_y, item_w, width)
        parts.append(
            f'<rect x="{legend_x:.1f}" y="{legend_y}" width="12" height="12" rx="2" fill="{colour}"/>'
            f'<text class="label" x="{legend_x + 16:.1f}" y="{legend_y + 11}" font-size="12">{escape(shown)}</text>'
        )
        legend_x += item_w
    if first or last < len(labels) - 1:
        note = str(_("month only partly in the range"))
        legend_x, legend_y = _legend_slot(legend_x, legend_y, text_width(note, 12) + 34, width)
        parts.append(
            f'<line class="partial-key" x1="{legend_x:.1f}" y1="{legend_y + 6}" x2="{legend_x + 22:.1f}" '
            f'y2="{legend_y + 6}" stroke="{INK}" stroke-width="2" stroke-dasharray="5 4"/>'
            f'<text class="label" x="{legend_x + 26:.1f}" y="{legend_y + 11}" font-size="12">{escape(note)}</text>'
        )
    return _svg(name, "".join(parts), height=legend_y + 20, width=width)


def heat_map(name: str, cohorts: list[dict]) -> SafeString:
    """Cohorts down, months since the first purchase across; the darker, the larger the share buying again. Drawn
    twice: for a desktop, and for a phone (narrow cells, the cohort's month only; its size stays on hover)."""
    if not cohorts:
        return empty(name)
    return wide_and_narrow(_heat_map(name, cohorts), _heat_map(f"{name}-phone", cohorts, cell_w=22, left=58, size=9))


def _heat_map(name: str, cohorts: list[dict], *, cell_w: int = 42, left: int = 120, size: int = 11) -> SafeString:
    cell_h, top_pad = 22, 18
    months = len(cohorts[0]["retention"]) if cohorts else 12
    height = top_pad + cell_h * max(len(cohorts), 1) + 4
    parts = [
        f'<text class="label" x="{left + i * cell_w + cell_w / 2}" y="12" font-size="{size}" text-anchor="middle">'
        f"+{i + 1}</text>"
        for i in range(months)
    ]
    for r, cohort in enumerate(cohorts):
        y = top_pad + r * cell_h
        label = f"{cohort['cohort']} ({cohort['customers']})"
        shown = label if left >= 120 else cohort["cohort"]
        parts.append(
            f'<text class="label" x="2" y="{y + 15}" font-size="{size + 1}">{escape(fit(shown, left - 8, size + 1))}'
            f"<title>{escape(label)}</title></text>"
        )
        for i, share in enumerate(cohort["retention"]):
            x = left + i * cell_w
            if share is None:
                fill, text, ink = "#f7f7f7", "", INK
            else:
                alpha = min(max(float(share), 0.0), 1.0)
                fill, text = f"rgba(11,92,173,{0.08 + 0.92 * alpha:.2f})", f"{float(share) * 100:.0f}%"
                ink = "#fff" if alpha > 0.5 else INK
            parts.append(
                f'<rect class="cell" data-cohort="{escape(cohort["cohort"])}" data-month="{i + 1}" '
                f'data-value="{escape(share if share is not None else "")}" x="{x}" y="{y}" width="{cell_w - 2}" '
                f'height="{cell_h - 2}" fill="{fill}"><title>{escape(cohort["cohort"])} +{i + 1}: {text or "–"}</title>'
                f'</rect><text class="value" x="{x + cell_w / 2 - 1}" y="{y + 15}" font-size="{size}" '
                f'text-anchor="middle" style="fill:{ink}">{text}</text>'
            )
    return _svg(
        name, "".join(parts), height=height, width=max(NARROW if left < 120 else WIDTH, left + months * cell_w + 2)
    )


# --- The campaign report ------------------------------------------------------------------------------------------

FUNNEL_STEPS = (("sent", "sent"), ("delivered", "delivered"), ("read", "opened"), ("clicked", "clicked"))
STEP_SHADES = (1.0, 0.8, 0.62, 0.46, 0.32)


def _positive_or_not(_index: int, value: float) -> str:
    return POSITIVE if value >= 0 else NEGATIVE


def _shade(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red},{green},{blue},{alpha})"


def campaign_funnel(channels: list[dict]) -> SafeString:
    """Each channel's steps in the channel's colour, lighter step by step."""
    rows, keys, colours = [], [], []
    steps = [*FUNNEL_STEPS, ("converted", "converted")]
    for row in channels:
        for n, (key, label) in enumerate(steps):
            rows.append((f"{channel_label(row['channel'])} · {_(label)}", row[key], value_text(row[key], "")))
            keys.append(f"{row['channel']} · {label}")
            colours.append(_shade(channel_colour(row["channel"]), STEP_SHADES[n]))
    return hbar_chart(
        "campaign_funnel", rows, colour_for=lambda i, _v: colours[i], title=_("Funnel per channel"), keys=keys
    )


def campaign_lift(lift: dict) -> SafeString:
    if not lift.get("treated") and not lift.get("holdout"):
        return empty("campaign_lift")
    treated = float(lift.get("treated_conversion_rate") or 0)
    holdout = float(lift.get("holdout_conversion_rate") or 0)
    rows = [
        (_("treated"), treated * 100, value_text(treated, "%")),
        (_("holdout"), holdout * 100, value_text(holdout, "%")),
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
            "-" if row["lift"] is None else f"{number_format(float(row['lift']) * 100, 1, use_l10n=True)} pt",
        )
        for row in lifts
    ]
    return hbar_chart("campaign_lift", rows, colour_for=_positive_or_not, title=_("Lift against the holdout"))


def campaign_roi(channels: list[dict], *, name: str = "campaign_roi") -> SafeString:
    """ROI per channel in the channel's colour; a loss grows left of the zero line."""
    rows = [
        (
            channel_label(row["channel"]),
            float(row["roi"] or 0),
            "-" if row["roi"] is None else f"{number_format(float(row['roi']) * 100, 0, use_l10n=True)}%",
        )
        for row in channels
    ]
    return hbar_chart(name, rows, title=_("ROI per channel"), keys=[row["channel"] for row in channels])
