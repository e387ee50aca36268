"""`python manage.py seed_demo [--customers N]`: a Spanish fashion retailer's demo, and staff logins.

Each app seeds its own part through its services, in the order the business would have lived it: the customers'
history of interactions on every channel (customers.demo_history), then stores, catalog, stock and orders from every
channel (orders.demo), then service cases from their messages and calls (customers.demo), then marketing campaigns
with their deliveries, orders and lift (campaigns.demo), and journeys (campaigns.journeys.demo). Everything is
idempotent:
a second run writes nothing new and only changes the staff passwords. Asynchronous projections are caught up once at
the end rather than after each of the thousands of commits.
The admin login is the last line printed.
"""

import random
import secrets
from datetime import datetime, time
from time import monotonic

from django.core.management.base import BaseCommand
from django.db import transaction

from backoffice.accounts.services import api_token_issue, staff_user_save
from backoffice.eventstore import projector, store
from backoffice.insights.demo import seed_spend
from campaigns.demo import seed_campaigns
from campaigns.journeys.demo import seed_journeys
from campaigns.selectors import campaign_count
from customers.demo import seed_cases
from customers.demo_history import MADRID, SEED, HistorySeeder
from customers.selectors import case_count
from orders.demo import seed_orders
from orders.selectors import order_count

STAFF_URL = "http://127.0.0.1:8000/admin/"  # what `make run` serves unless PORT says otherwise (it passes --admin-url)


class Command(BaseCommand):
    help = "Seed a Spanish retailer's demo through the services (idempotent) and print staff logins."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="how many demo customers (default 2000)")
        parser.add_argument("--admin-url", default=STAFF_URL, help=f"the admin address printed (default {STAFF_URL})")

    def handle(self, *args, customers: int, admin_url: str, **options):
        started = monotonic()
        with store.after_commit_hooks_paused():
            self._seed(customers)
        catch_up_started = monotonic()
        caught_up = projector.catch_up_all()
        self.stdout.write(f"  projections caught up in {monotonic() - catch_up_started:.1f} s")
        self.stdout.write(f"Asynchronous projections caught up: {sum(caught_up.values())} events read")
        self.stdout.write(f"Done in {monotonic() - started:.1f} s.")
        self._staff(admin_url)

    def _seed(self, customers: int) -> None:
        started = monotonic()
        history = HistorySeeder(self.stdout)
        anchor = history.seed(customers)
        self.stdout.write(f"  history seeded in {monotonic() - started:.1f} s")
        # The history ends the day before the anchor; the later parts are dated from the anchor too, so a second
        # run (on another day) sends the same events and the store answers them as duplicates.
        end_of_history = datetime.combine(anchor, time(0), MADRID)
        added = seed_orders(
            now=end_of_history,
            rng=random.Random(SEED),  # noqa: S311 - demo data
            stdout=self.stdout,
            checkouts=history.checkouts,  # the orders the history's paid carts name
        )
        new_orders = added["checkout_orders"] + added["orders"]
        self.stdout.write(f"Orders: {order_count()} in all ({new_orders} new), {added['till_sales']} new till sales")
        self.stdout.write(f"  orders seeded in {monotonic() - started:.1f} s")
        cases = seed_cases()
        self.stdout.write(
            f"Service cases: {case_count()} in all; this run opened {cases['opened']}, replied to "
            f"{cases['replied']}, resolved {cases['resolved']}, rated {cases['rated']}"
        )
        campaigns = seed_campaigns(now=end_of_history)
        self.stdout.write(f"Campaigns: {campaign_count()} in all ({campaigns})")
        journeys = seed_journeys()
        self.stdout.write(
            f"Journeys: {journeys['made']} new, {journeys['published']} published in this run (live ones enter people "
            "from the next cart abandoned or order ready)"
        )
        self.stdout.write(f"Acquisition spend: {seed_spend()} channel-months, per customer each channel acquired")

    def _staff(self, admin_url: str) -> None:
        """One user per role; passwords change on every run. The admin login is the last line, always."""
        passwords = {
            username: secrets.token_urlsafe(12) for username in ("admin", "marketing", "support", "store.mad01")
        }
        with transaction.atomic():
            admin = staff_user_save(username="admin", role="admin", password=passwords["admin"])
            admin.is_superuser = admin.is_staff = True
            admin.save(update_fields=["is_superuser", "is_staff"])
            staff_user_save(username="marketing", role="marketing", password=passwords["marketing"])
            staff_user_save(username="support", role="support", password=passwords["support"])
            staff_user_save(
                username="store.mad01", role="store", location_code="MAD-01", password=passwords["store.mad01"]
            )
            integration = staff_user_save(username="integration", role="integration")
            token = api_token_issue(user=integration)
        self.stdout.write("Staff users (passwords change on every run):")
        self.stdout.write(f"  marketing    password: {passwords['marketing']}")
        self.stdout.write(f"  support      password: {passwords['support']}")
        self.stdout.write(f"  store.mad01  password: {passwords['store.mad01']}  (store staff, MAD-01)")
        self.stdout.write(f"  integration  API token: {token}")
        self.stdout.write(f"Staff login: {admin_url}  user: admin  password: {passwords['admin']}")
