"""The retail mix for locust (run by benchmarks/load.py): what a retailer's systems and staff do all day.

    SDK-style event batches (web/app tracking), customer 360 views, timeline pages, stock lookups, order placements,
    case replies, and a bare GET /health/ as the baseline of the same run.

Reads LOAD_TOKEN (an admin API token) and LOAD_FIXTURES (a JSON file: products, warehouse, customers, open cases)
from the environment. Every write carries its own id, so a retry is idempotent.
"""

import json
import os
import random
import uuid
from datetime import UTC, datetime

from locust import HttpUser, between, task

FIXTURES = json.loads(open(os.environ["LOAD_FIXTURES"]).read())  # noqa: SIM115, PTH123 - read once at import
TOKEN = os.environ["LOAD_TOKEN"]
EVENT_TYPES = [
    ("page.viewed", lambda: {"url": f"/p/{random.randint(1, 500)}"}),
    ("product.viewed", lambda: {"sku": random.choice(FIXTURES["skus"])}),
    ("cart.item_added", lambda: {"cart_id": f"c-{random.randint(1, 10**6)}", "sku": random.choice(FIXTURES["skus"]),
                                 "quantity": 1, "unit_price": "19.90"}),
]  # fmt: skip


class RetailSystems(HttpUser):
    wait_time = between(0.2, 1.0)

    def on_start(self):
        self.client.headers["Authorization"] = f"Token {TOKEN}"

    @task(3)
    def event_batch(self):
        now = datetime.now(tz=UTC).isoformat()
        events = []
        for _ in range(10):
            type_name, data = random.choice(EVENT_TYPES)
            person = random.randint(1, 5000)
            events.append({
                "id": str(uuid.uuid4()), "type": type_name, "channel": random.choice(["web", "app"]),
                "occurred_at": now,
                "customer": {"anonymous_id": f"web-{person}", "email": f"load{person}@example.es"}, "data": data(),
            })  # fmt: skip
        self.client.post("/api/v1/events", json={"events": events}, name="POST /events (batch of 10)")

    @task(3)
    def customer_360(self):
        customer = random.choice(FIXTURES["customers"])
        self.client.get(f"/api/v1/customers/{customer}", name="GET /customers/{id} (360)")

    @task(2)
    def timeline_page(self):
        customer = random.choice(FIXTURES["customers"])
        self.client.get(f"/api/v1/customers/{customer}/timeline?limit=20", name="GET /customers/{id}/timeline")

    @task(3)
    def stock_lookup(self):
        self.client.get(f"/api/v1/stock?sku={random.choice(FIXTURES['skus'])}", name="GET /stock?sku=")

    @task(2)
    def order_placement(self):
        lines = [{"sku": sku, "quantity": 1} for sku in random.sample(FIXTURES["skus"], 2)]
        body = {
            "id": str(uuid.uuid4()), "customer": random.choice(FIXTURES["customers"]), "channel": "web", "lines": lines,
            "fulfilment": {"method": "ship"},
        }  # fmt: skip
        self.client.post("/api/v1/orders", json=body, name="POST /orders")

    @task(1)
    def case_reply(self):
        case = random.choice(FIXTURES["cases"])
        body = {"channel": "phone", "text": "Le llamamos para confirmar la devolución."}
        self.client.post(f"/api/v1/cases/{case}/messages", json=body, name="POST /cases/{id}/messages")

    @task(1)
    def health(self):
        self.client.get("/health/", name="GET /health/ (baseline)")
