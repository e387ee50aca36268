"""`python manage.py seed_demo [--customers N]`: a Spanish fashion retailer's demo, and staff logins.

Each app seeds its own part through its services, in the order the business would have lived it: the customers'
history of interactions on every channel (customers.demo_history), then service cases from their messages and calls
(customers.demo). Everything is idempotent: a second run writes nothing new and only changes the staff passwords.
The admin login is the last line printed.
"""

import secrets
from time import monotonic

from django.core.management.base import BaseCommand
from django.db import transaction

from backoffice.accounts.services import api_token_get_or_create, staff_user_save
from customers.demo import seed_cases
from customers.demo_history import HistorySeeder
from customers.models import Case

STAFF_URL = "http://127.0.0.1:8000/admin/"


class Command(BaseCommand):
    help = "Seed a Spanish retailer's demo through the services (idempotent) and print staff logins."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=2000, help="how many demo customers (default 2000)")

    def handle(self, *args, customers: int, **options):
        started = monotonic()
        HistorySeeder(self.stdout).seed(customers)
        cases = seed_cases()
        self.stdout.write(
            f"Service cases: {Case.objects.count()} in all; this run opened {cases['opened']}, replied to "
            f"{cases['replied']}, resolved {cases['resolved']}, rated {cases['rated']}"
        )
        self.stdout.write(f"Done in {monotonic() - started:.1f} s.")
        self._staff()

    def _staff(self) -> None:
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
            token = api_token_get_or_create(user=integration)
        self.stdout.write("Staff users (passwords change on every run):")
        self.stdout.write(f"  marketing    password: {passwords['marketing']}")
        self.stdout.write(f"  support      password: {passwords['support']}")
        self.stdout.write(f"  store.mad01  password: {passwords['store.mad01']}  (store staff, MAD-01)")
        self.stdout.write(f"  integration  API token: {token}")
        self.stdout.write(f"Staff login: {STAFF_URL}  user: admin  password: {passwords['admin']}")
