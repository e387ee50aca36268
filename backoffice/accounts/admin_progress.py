"""Progress of long work in the admin, one markup for all of it (a campaign's launch, a customer's export): counts
done of total in a <progress> bar, one sentence, and while work goes on a reload every 5 s. `data` becomes data-*
attributes (the counts, for tests and scripts)."""

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe


def progress_html(*, done: int, total: int, said: str, working: bool = False, data: dict[str, int]) -> SafeString:
    attributes = format_html_join(" ", 'data-{}="{}"', data.items())
    return format_html(
        '<div class="launch-progress" {}><progress max="{}" value="{}"></progress> <span>{}</span>{}</div>',
        attributes,
        max(total, 1),
        done,
        said,
        mark_safe('<meta http-equiv="refresh" content="5">') if working else "",  # noqa: S308 - a constant
    )
