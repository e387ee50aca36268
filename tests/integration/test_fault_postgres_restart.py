"""PostgreSQL restarted under load: clients that retry with the same ids (after a dropped connection or a 503) end
with every event and every order stored exactly once.

A throwaway cluster of this test's own on 127.0.0.1:5434 (never the shared one), a gunicorn serving the project on it,
client threads sending interactions and orders with ids of their own, and `pg_ctl restart -m fast` in the middle."""

import os
import threading
import time
import uuid

import pytest
import requests

from benchmarks.support.faults import Server, ThrowawayPostgres, manage, send_until_accepted

pytestmark = pytest.mark.integration

PORT = 18601
CLIENTS = 4
EVENTS_EACH = 60
ORDERS_EACH = 15


@pytest.fixture
def postgres():
    cluster = ThrowawayPostgres(port=5434).start()
    yield cluster
    cluster.stop()


@pytest.fixture
def server(postgres, tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "backoffice.settings.test",
        "DATABASE_URL": postgres.url,
        "CELERY_BROKER_URL": "",  # projections catch up in the web process: this test is about the database
    }
    manage(env, "migrate", "--noinput")
    token = manage(env, "api_token", "load", "--create", "--role", "integration").strip().splitlines()[-1]
    running = Server(env, PORT, tmp_path / "gunicorn.log").start()
    running.token = token
    yield running
    running.stop()


def _session(token: str) -> requests.Session:
    session = requests.Session()
    session.headers["Authorization"] = f"Token {token}"
    return session


def test_clients_retrying_with_their_ids_through_a_postgres_restart_store_everything_once(postgres, server):
    setup = _session(server.token)
    api = f"{server.url}/api/v1"
    assert setup.post(f"{api}/locations", json={"code": "WH-1", "name": "Almacén", "kind": "warehouse"}).ok
    assert setup.post(f"{api}/products", json={"sku": "TEE-1", "name": "Camiseta", "price": "9.90"}).ok
    received = {"sku": "TEE-1", "location": "WH-1", "kind": "received", "quantity": 10_000}
    assert setup.post(f"{api}/stock/movements", json=received).status_code == 201

    event_ids = [[str(uuid.uuid4()) for _ in range(EVENTS_EACH)] for _ in range(CLIENTS)]
    order_ids = [[f"F-{c}-{n}-{uuid.uuid4().hex[:8]}" for n in range(ORDERS_EACH)] for c in range(CLIENTS)]
    answers: list = []
    done = [0]
    failures: list = []
    deadline = time.monotonic() + 300

    def client(number: int) -> None:
        session = _session(server.token)
        try:
            for n in range(EVENTS_EACH):
                event = {
                    "id": event_ids[number][n],
                    "type": "cart.item_added",
                    "channel": "web",
                    "occurred_at": "2026-11-20T10:00:00+01:00",
                    "customer": {"email": f"cliente{number}@example.es"},
                    "data": {"cart_id": f"c-{number}", "sku": "TEE-1", "quantity": 1, "unit_price": "9.90"},
                }
                send_until_accepted(session, "POST", f"{api}/events", event, deadline=deadline, seen=answers)
                done[0] += 1
                if n % 4 == 0:
                    order = {
                        "id": order_ids[number][n // 4],
                        "customer": {"email": f"cliente{number}@example.es"},
                        "channel": "web",
                        "lines": [{"sku": "TEE-1", "quantity": 1}],
                        "fulfilment": {"method": "ship"},
                    }
                    send_until_accepted(session, "POST", f"{api}/orders", order, deadline=deadline, seen=answers)
                    done[0] += 1
        except Exception as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=client, args=(c,)) for c in range(CLIENTS)]
    for thread in threads:
        thread.start()
    while done[0] < CLIENTS * (EVENTS_EACH + ORDERS_EACH) // 3 and any(t.is_alive() for t in threads):
        time.sleep(0.05)
    pid_before = postgres.postmaster_pid()
    postgres.restart()
    restarted_at_done = done[0]
    for thread in threads:
        thread.join()

    assert not failures, failures
    assert postgres.postmaster_pid() != pid_before
    assert 0 < restarted_at_done < CLIENTS * (EVENTS_EACH + ORDERS_EACH)
    every_event = [i for ids in event_ids for i in ids]
    every_order = [i for ids in order_ids for i in ids]
    stored_events = postgres.psql(
        "SELECT count(*), count(DISTINCT id) FROM eventstore_event WHERE type = 'cart.item_added'"
    )
    assert stored_events == f"{len(every_event)}|{len(every_event)}"
    wanted = ",".join(f"'{i}'" for i in every_event)
    assert postgres.psql(f"SELECT count(*) FROM eventstore_event WHERE id::text IN ({wanted})") == str(len(every_event))
    assert postgres.psql("SELECT count(*) FROM orders_order") == str(len(every_order))
    placed = postgres.psql("SELECT count(*), count(DISTINCT stream) FROM eventstore_event WHERE type = 'order.placed'")
    assert placed == f"{len(every_order)}|{len(every_order)}"
    sold = postgres.psql("SELECT count(*) FROM orders_order WHERE id LIKE 'F-%'")
    assert sold == str(len(every_order))
    print(  # the counts, for the CI log
        f"\nPostgreSQL restarted after {restarted_at_done} accepted requests; {len(every_event)} events and "
        f"{len(every_order)} orders stored once each; answers retried: {len(answers)} "
        f"({', '.join(sorted({str(a) for a in answers})) or 'none'})"
    )
    assert 500 not in answers
