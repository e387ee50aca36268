"""The README's screenshots, taken from a running demo (`make run`) with Debian's Chromium through Playwright.

    DATABASE_URL=... .venv/bin/python docs/screenshots/take.py --base http://127.0.0.1:8000

It signs in as the demo's users by creating their sessions in the same database (no password needed) and writes
PNGs at 1440x900 (desktop) and 390x844 (phone) next to this file. Run it after `make run` has seeded the demo.
"""

import argparse
import os
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))
VIEWPORTS = {"desktop": {"width": 1440, "height": 900}, "phone": {"width": 390, "height": 844}}


def session_cookie(username: str) -> str:
    from django.contrib.auth import get_user_model
    from django.test import Client

    client = Client()
    client.force_login(get_user_model().objects.get(username=username))
    from django.conf import settings

    return client.cookies[settings.SESSION_COOKIE_NAME].value


def pages() -> list[tuple[str, str, str]]:
    """(file name, user, path) of each page the README shows."""
    from campaigns.models import Campaign
    from customers.models import Case, Customer

    customer = (
        Customer.objects.filter(merged_into__isnull=True, erased_at__isnull=True, order_count__gt=1)
        .order_by("-interaction_count")
        .first()
    )
    case = Case.objects.order_by("-opened_at").first()
    launched = Campaign.objects.exclude(status="draft").order_by("name").first()
    draft = Campaign.objects.filter(status="draft").order_by("name").first() or launched
    shots = [
        ("dashboard", "marketing", "/admin/insights/dashboard/"),
        ("staff-customer", "support", f"/staff/customers/{customer.id}/"),
        ("admin-customer", "admin", f"/admin/customers/customer/{customer.id}/change/#timeline"),
        ("admin-home", "admin", "/admin/"),
    ]
    if case:
        shots.append(("staff-case", "support", f"/staff/cases/{case.id}/"))
    if draft:
        shots.append(("worksheet", "marketing", f"/admin/campaigns/campaign/{draft.pk}/change/"))
    if launched:
        shots.append(("campaign-report", "marketing", f"/admin/insights/dashboard/campaign/{launched.pk}/"))
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--only", nargs="*", help="file names to take (default: all)")
    parser.add_argument("--language", default="es")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "backoffice.settings.local")
    import django

    django.setup()
    from django.conf import settings
    from playwright.sync_api import sync_playwright

    from tests.browser import launch_chromium

    shots = [s for s in pages() if not args.only or s[0] in args.only]
    cookies = {user: session_cookie(user) for _name, user, _path in shots}
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        for device, viewport in VIEWPORTS.items():
            for name, user, path in shots:
                context = browser.new_context(viewport=viewport, locale=args.language, device_scale_factor=1)
                context.add_cookies(
                    [
                        {"name": settings.SESSION_COOKIE_NAME, "value": cookies[user], "url": args.base},
                        {"name": settings.LANGUAGE_COOKIE_NAME, "value": args.language, "url": args.base},
                    ]
                )
                page = context.new_page()
                page.goto(args.base + path)
                page.wait_for_load_state("networkidle")
                if name == "worksheet":  # the failed checks, under the worksheet's first questions
                    page.evaluate(
                        "document.querySelector('.qqoqcp-problems')?.closest('fieldset, .form-row')?.scrollIntoView()"
                    )
                out = HERE / f"{name}-{device}.png"
                page.screenshot(path=str(out))
                print(out.relative_to(ROOT))
                context.close()
        browser.close()


if __name__ == "__main__":
    main()
