#!/usr/bin/env python
"""Ingestion benchmark of the event store (DESIGN.md section 3), with baselines measured in the same run.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/backoffice_bench .venv/bin/python benchmarks/ingest.py
    .venv/bin/python benchmarks/ingest.py --events 20000          # SQLite in a temporary file, quicker

The script builds its own database from scratch (PostgreSQL: drops and recreates the database named in
DATABASE_URL, which must contain "bench"; SQLite: a temporary file), migrates it, and measures:

  baselines   the same rows written by the driver: executemany INSERT (and COPY on PostgreSQL) in batches, and
              ORM bulk_create into an unmanaged copy of the event table (Event itself refuses bulk_create)
  service     store.append_batches in batches; customers.services.interactions_ingest in batches (identity
              resolution included: customers drawn from a pool, so some are new and some known, named by email,
              some also by phone apart until an item names both and merges them, some anonymous first, some
              with a name; see identify()), against append_batches of the same events (issue 3: >= 70%)
  http        POST /api/v1/events in batches through DRF's APIClient with an integration token
  single      store.append one event at a time with expected_version (distinct streams, then one hot stream),
              next to a raw one-row INSERT + COMMIT
  read        store.read_all(after=, limit=) over the whole log, next to the same keyset SELECT by the driver
  projections projector.catch_up_all() over the log written by interactions_ingest

Writes run with EVENTSTORE_AFTER_COMMIT_HOOKS = [] so asynchronous projection catch-up is not mixed into them;
it is measured on its own. Each write benchmark starts on emptied event and projection tables (the append-only
triggers are lifted for exactly that flush and put back in the same transaction). Progress goes to stderr, the
report to stdout.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.support.runs import (  # noqa: E402
    AutoAnalyze,
    benchmark_parser,
    code_version,
    log,
    prepare_database,
    setup_django,
)

EVENT_COLUMNS = (
    "id, stream, version, type, schema_version, channel, customer_id, occurred_at, recorded_at, data, metadata, digest"
)
READ_COLUMNS = (
    "position, id, stream, version, type, schema_version, channel, customer_id, occurred_at, recorded_at, data, "
    "metadata"
)
# The issue's targets. Keys are the benchmark keys below.
TARGET_SERVICE_PG = 10_000
TARGET_SERVICE_PG_RATIO = 0.30
TARGET_SERVICE_SQLITE = 8_000
# Issue 3: identity resolution inside ingestion keeps it at >= 70% of store.append_batches (measured in the run).
TARGET_INGEST_RATIO = 0.70
TARGET_HTTP = 3_000
TARGET_SINGLE_RATE = 1_000
TARGET_SINGLE_P99_MS = 10.0
TARGET_READ = 50_000
BENCHMARKS = ("executemany", "copy", "orm", "append_batches", "single", "read", "ingest", "projections", "http")


# --------------------------------------------------------------------------------------------------------------
# Data: realistic interactions, ~500 bytes of data + metadata each


PRODUCTS = (
    ("camiseta-algodon-organico", "Camiseta de algodón orgánico", "19.90"),
    ("zapatillas-running-mujer", "Zapatillas de running para mujer", "89.95"),
    ("vaqueros-slim-fit", "Vaqueros slim fit lavado oscuro", "49.99"),
    ("chaqueta-impermeable", "Chaqueta impermeable con capucha", "129.00"),
    ("mochila-urbana-20l", "Mochila urbana 20 litros", "39.50"),
    ("vestido-lino-verano", "Vestido de lino de verano", "59.90"),
)
SEARCHES = (
    "zapatillas running mujer talla 38",
    "chaqueta impermeable hombre azul marino",
    "vestido lino blanco largo",
    "mochila portatil 15 pulgadas",
)
TYPE_MIX = (
    ("cart.item_added", 40),
    ("product.viewed", 25),
    ("page.viewed", 20),
    ("search.performed", 10),
    ("cart.checked_out", 5),
)


@dataclass
class Spec:
    id: uuid.UUID
    type: str
    channel: str
    occurred_at: datetime
    customer: int
    anonymous_id: str | None
    data: dict[str, Any]
    metadata: dict[str, Any]
    # How the sender names the customer (POST /api/v1/events): identifiers, sometimes a name. See identify().
    ref: dict[str, str] = field(default_factory=dict)


@dataclass
class Dataset:
    specs: list[Spec]
    customer_ids: list[uuid.UUID]
    emails: list[str]
    identity: IdentityMix
    streams: list[str] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        counters: dict[str, int] = {}
        for spec in self.specs:
            stream = (
                f"cart-{spec.data['cart_id']}"
                if spec.type.startswith("cart.")
                else f"customer-{self.customer_ids[spec.customer]}"
            )
            counters[stream] = counters.get(stream, 0) + 1
            self.streams.append(stream)
            self.versions.append(counters[stream])

    def payload_bytes(self) -> float:
        sizes = [len(json.dumps(s.data).encode()) + len(json.dumps(s.metadata).encode()) for s in self.specs]
        return statistics.fmean(sizes)

    def raw_rows(self, vendor: str) -> list[tuple]:
        """Driver-ready rows except data/metadata, which are serialised inside the timed loop."""
        recorded_at = datetime.now(UTC)
        rows = []
        for spec, stream, version in zip(self.specs, self.streams, self.versions, strict=True):
            customer_id = self.customer_ids[spec.customer]
            digest = hashlib.sha256(spec.id.bytes).hexdigest()
            if vendor == "postgresql":
                row = (spec.id, stream, version, spec.type, 1, spec.channel, customer_id, spec.occurred_at, recorded_at)
            else:
                row = (
                    spec.id.hex,
                    stream,
                    version,
                    spec.type,
                    1,
                    spec.channel,
                    customer_id.hex,
                    _sqlite_datetime(spec.occurred_at),
                    _sqlite_datetime(recorded_at),
                )
            rows.append((*row, spec.data, spec.metadata, digest))
        return rows

    def stream_appends(self) -> list:
        from backoffice.eventstore import store

        return [
            store.StreamAppend(
                stream,
                [
                    store.NewEvent(
                        id=spec.id,
                        type=spec.type,
                        data=spec.data,
                        channel=spec.channel,
                        customer_id=self.customer_ids[spec.customer],
                        occurred_at=spec.occurred_at,
                        metadata=spec.metadata,
                    )
                ],
            )
            for spec, stream in zip(self.specs, self.streams, strict=True)
        ]

    def raw_items(self) -> list[dict]:
        """The interactions as another system sends them to POST /api/v1/events (customer named by identifiers)."""
        items = []
        for spec in self.specs:
            items.append(
                {
                    "id": str(spec.id),
                    "type": spec.type,
                    "channel": spec.channel,
                    "occurred_at": spec.occurred_at.isoformat(),
                    "customer": dict(spec.ref),
                    "data": spec.data,
                    "metadata": spec.metadata,
                }
            )
        return items


def _sqlite_datetime(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")


def make_dataset(count: int, customers: int, seed: int) -> Dataset:
    rng = random.Random(seed)
    customer_ids = [uuid.UUID(int=rng.getrandbits(128), version=4) for _ in range(customers)]
    emails = [f"cliente{i:05d}.{rng.randrange(10**6):06d}@example.es" for i in range(customers)]
    types = [name for name, weight in TYPE_MIX for _ in range(weight)]
    now = datetime.now(UTC)
    specs = []
    for n in range(count):
        customer = rng.randrange(customers)
        type_ = rng.choice(types)
        slug, title, price = rng.choice(PRODUCTS)
        sku = f"{slug[:12].upper()}-{rng.randrange(1000):03d}"
        cart_id = f"c-{customer:05d}-{rng.randrange(3)}"
        channel = rng.choice(("web", "web", "web", "app", "app", "store"))
        # Shop URLs carry campaign parameters, as real ones do: with the closed metadata they keep the payload
        # near the ~500 B per event the issue's targets were measured with.
        url = (
            f"https://tienda.example.es/es/p/{slug}-{sku.lower()}?color=azul&talla=m&utm_source=newsletter"
            f"&utm_medium=email&utm_campaign=rebajas-invierno-{rng.randrange(100):02d}&gclid={rng.getrandbits(96):024x}"
        )
        if type_ == "cart.item_added":
            data = {"cart_id": cart_id, "sku": sku, "quantity": rng.randint(1, 3), "unit_price": price}
        elif type_ == "cart.checked_out":
            data = {"cart_id": cart_id, "order_id": f"WEB-{n:08d}"}
        elif type_ == "product.viewed":
            data = {"sku": sku, "url": url}
        elif type_ == "page.viewed":
            data = {
                "url": url,
                "title": f"{title} | Tienda",
                "referrer": "https://www.google.es/search?q=" + title.lower().replace(" ", "+"),
            }
        else:
            data = {"query": rng.choice(SEARCHES), "results_count": rng.randrange(200)}
        # Sender metadata is a closed set (customers.services.ingestion.SenderMetadata): user agents, IPs and the
        # like are personal data that erasure could not reach in clear metadata, so ingestion refuses them.
        metadata = {
            "source_system": "web-shop" if channel == "web" else "mobile-app" if channel == "app" else "pos",
            "correlation_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "causation_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "trace_id": f"00-{rng.getrandbits(128):032x}-{rng.getrandbits(64):016x}-01",
        }
        specs.append(
            Spec(
                id=uuid.UUID(int=rng.getrandbits(128), version=4),
                type=type_,
                channel=channel,
                occurred_at=now - timedelta(seconds=rng.randrange(30 * 86400), microseconds=rng.randrange(10**6)),
                customer=customer,
                anonymous_id=f"web-{customer:05d}-{rng.randrange(4)}" if rng.random() < 0.1 else None,
                data=data,
                metadata=metadata,
            )
        )
    identity = identify(specs, emails, seed)
    return Dataset(specs, customer_ids, emails, identity)


FIRST_NAMES = ("Ana", "Luis", "Marta", "Pablo", "Lucía", "Javier", "Carmen", "Sergio", "Elena", "Raúl")
LAST_NAMES = ("García", "Martínez", "López", "Sánchez", "Pérez", "Gómez", "Ruiz", "Díaz", "Moreno", "Álvarez")


@dataclass
class IdentityMix:
    """What the identifiers of the data set make identity resolution do, as planned when it was generated."""

    two_sided: int = 0  # people known by phone and by email apart until an item names both
    strong_merge_items: int = 0  # items naming the email of one existing customer and the phone of another
    anonymous_only_items: int = 0  # visitors before they log in: the profile is merged when they identify
    named_items: int = 0
    phone_items: int = 0

    def describe(self, total: int) -> str:
        return (
            f"customers named by email; {self.two_sided:,} people also known apart by phone (local or E.164) until an "
            f"item names both: {self.strong_merge_items:,} items ({self.strong_merge_items / total:.1%}) carry the "
            f"email and the phone of two existing customers; {self.phone_items / total:.1%} of items carry a phone, "
            f"10% an anonymous id with an identifier, {self.anonymous_only_items / total:.1%} an anonymous id alone; "
            f"{self.named_items / total:.0%} a name"
        )


def identify(specs: list[Spec], emails: list[str], seed: int) -> IdentityMix:
    """Give each item the identifiers its sender would send, in order, so the ingest benchmark exercises every path
    of identity resolution: new and known customers, identifiers added, anonymous ids stitched, names, and merges.

    Every 10th customer is "two-sided": their WhatsApp and till items name them by phone and their web items by
    email, so they exist as two customers; once both exist, half their later items name both (a checkout), and the
    first of those merges them. Other customers sometimes browse anonymously before naming themselves (a profile
    merged into theirs when the anonymous id comes with their email). A separate random stream: the data, streams
    and versions of the baselines are those of the original data set.
    """
    rng = random.Random(seed + 2)
    mix = IdentityMix(two_sided=sum(1 for c in range(len(emails)) if c % 10 == 0))
    seen: dict[int, set[str]] = {}
    merged: set[int] = set()
    for spec in specs:
        c = spec.customer
        kinds = seen.setdefault(c, set())
        phone = f"6{c:08d}"
        phone = f"{phone[:3]} {phone[3:6]} {phone[6:]}" if rng.random() < 0.5 else f"+34{phone}"
        ref: dict[str, str]
        if c % 10 == 0:
            if c not in merged and {"email", "phone"} <= kinds and rng.random() < 0.5:
                ref = {"email": emails[c], "phone": phone}
                merged.add(c)
                mix.strong_merge_items += 1
            elif rng.random() < 0.5:
                ref = {"phone": phone}
            else:
                ref = {"email": emails[c]}
        elif spec.anonymous_id is None and rng.random() < 0.02:
            ref = {"anonymous_id": f"web-{c:05d}-{rng.randrange(4)}"}
            mix.anonymous_only_items += 1
        else:
            ref = {"email": emails[c]}
        kinds.update(kind for kind in ref if kind != "anonymous_id")
        if spec.anonymous_id:
            ref["anonymous_id"] = spec.anonymous_id
        if rng.random() < 0.2:
            ref["name"] = f"{FIRST_NAMES[c % 10]} {LAST_NAMES[c // 10 % 10]} {LAST_NAMES[c // 100 % 10]}"
            mix.named_items += 1
        mix.phone_items += "phone" in ref
        spec.ref = ref
    return mix


# --------------------------------------------------------------------------------------------------------------
# Measuring


@dataclass
class Result:
    key: str
    name: str
    events: int
    seconds: float
    baseline: str | None = None
    target: str = ""
    met: bool | None = None
    latencies_ms: list[float] = field(default_factory=list)
    note: str = ""
    analyzes: int = 0
    analyze_seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else float("inf")

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies_ms)
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


class Bench:
    def __init__(self, args: argparse.Namespace, dataset: Dataset):
        from django.db import connection

        self.args = args
        self.ds = dataset
        self.vendor = connection.vendor
        self.pg = self.vendor == "postgresql"
        self.results: dict[str, Result] = {}
        self.profile_dir = Path(args.profile_dir) if args.profile else None
        self.only = set(args.only.split(",")) if args.only else set(BENCHMARKS)
        self.autoanalyze = self.pg and not args.no_autoanalyze
        self.tables = self._store_tables()
        self._stand_in = AutoAnalyze()
        self._analyzes = 0
        self._analyze_seconds = 0.0
        self._last_timing: dict[str, float] = {}
        self.samples: dict[str, list[float]] = {}

    # -- helpers

    def chunks(self, items: Sequence, size: int | None = None) -> Iterator[Sequence]:
        size = size or self.args.batch
        for start in range(0, len(items), size):
            yield items[start : start + size]

    @staticmethod
    def _store_tables() -> list[str]:
        """The event store's tables and every projection's: what a benchmark empties and what appends grow."""
        from django.apps import apps

        labels = {"eventstore", "customers", "orders", "campaigns"}
        return sorted({m._meta.db_table for m in apps.get_models() if m._meta.app_label in labels and m._meta.managed})

    def reset(self) -> None:
        """Empty the event store and every projection table; the append-only triggers are back on commit."""
        from django.core.management.color import no_style
        from django.db import connection

        from backoffice.eventstore import triggers

        statements = [
            *triggers.drop_statements(self.vendor),
            # CASCADE: tables of other apps (campaigns, insights...) refer to these; a bench database loses them too.
            *connection.ops.sql_flush(no_style(), self.tables, reset_sequences=True, allow_cascade=True),
            *triggers.create_statements(self.vendor),
        ]
        connection.ops.execute_sql_flush(statements)
        self.settle()

    def tick(self) -> None:
        """Called after each batch: the stand-in for autovacuum's ANALYZE on PostgreSQL (AutoAnalyze), outside the
        measured time.

        Every benchmark starts on emptied tables, which production never does, and this server may run with
        autovacuum off (CI config). With statistics from the empty tables the planner keeps estimating that
        `stream IN (500 streams)` matches the whole table (a parallel seq scan per append, 2.6 ms -> 49 ms at 127k
        events), and the deferred foreign-key checks of CustomerIdentifier keep the seq-scan plan cached while
        customers_customer was empty (commits grow from 8 ms to 100+ ms).
        """
        if not self.autoanalyze:
            return
        from django.db import connection

        seconds = self._stand_in.seconds
        self._analyzes += self._stand_in.run_due(connection)
        self._analyze_seconds += self._stand_in.seconds - seconds

    def settle(self) -> None:
        """Start every timed section from the same state: no pending checkpoint, fresh planner statistics."""
        from django.db import connection

        gc.collect()
        with connection.cursor() as cursor:
            if self.pg:
                cursor.execute("CHECKPOINT")
                cursor.execute("VACUUM ANALYZE")
            else:
                cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def count_events(self) -> int:
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute("SELECT COUNT(*) FROM eventstore_event")
            return cursor.fetchone()[0]

    @contextmanager
    def timed(self, key: str) -> Iterator[dict[str, float]]:
        """Times the block (and profiles it when asked); the elapsed seconds land in the yielded dict."""
        box: dict[str, float] = {}
        profiler = None
        if self.profile_dir is not None:
            self.profile_dir.mkdir(parents=True, exist_ok=True)
            if self.args.profile == "pyinstrument":
                from pyinstrument import Profiler

                profiler = Profiler(interval=0.0005)
                profiler.start()
            else:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
        self._analyzes, self._analyze_seconds = 0, 0.0
        # The benchmark holds its whole data set in memory, which a server process does not: keep those objects out
        # of the cyclic garbage collector's way, or every full collection walks them (reads measured 2x slower).
        gc.collect()
        gc.freeze()
        start = time.perf_counter()
        try:
            yield box
        finally:
            box["seconds"] = time.perf_counter() - start - self._analyze_seconds
            gc.unfreeze()
            self._last_timing = {"analyzes": self._analyzes, "analyze_seconds": self._analyze_seconds}
            if profiler is not None:
                self._save_profile(key, profiler)

    def _save_profile(self, key: str, profiler: Any) -> None:
        assert self.profile_dir is not None
        if self.args.profile == "pyinstrument":
            profiler.stop()
            path = self.profile_dir / f"{self.vendor}-{key}.txt"
            path.write_text(profiler.output_text(unicode=False, color=False, show_all=False))
            profiler.write_html(self.profile_dir / f"{self.vendor}-{key}.html")
        else:
            profiler.disable()
            path = self.profile_dir / f"{self.vendor}-{key}.pstats"
            profiler.dump_stats(path)
        log(f"  profile written to {path}")

    def add(self, result: Result) -> Result:
        result.analyzes = int(self._last_timing.get("analyzes", 0))
        result.analyze_seconds = self._last_timing.get("analyze_seconds", 0.0)
        self._last_timing = {}
        # Repeated rounds (--rounds): the figure is the median round, the rounds are listed in the notes.
        samples = self.samples.setdefault(result.key, [])
        samples.append(result.seconds)
        if len(samples) > 1:
            result.seconds = statistics.median(samples)
            result.note = " ".join(
                filter(
                    None,
                    [result.note, f"(median of {len(samples)} rounds: {', '.join(f'{x:.2f}' for x in samples)} s)"],
                )
            )
            if result.key == "append_batches":
                result.met = self._service_target("append_batches", result.seconds, result.events)["met"]
            elif result.key == "ingest" and "append_batches" in self.results:
                result.met = result.rate / self.results["append_batches"].rate >= TARGET_INGEST_RATIO
        self.results[result.key] = result
        log(f"  {result.name}: {result.events} events in {result.seconds:.2f}s = {result.rate:,.0f}/s {result.note}")
        return result

    def wanted(self, key: str) -> bool:
        return key in self.only

    # -- baselines

    def bench_executemany(self) -> None:
        from django.db import connection, transaction

        self.reset()
        rows = self.ds.raw_rows(self.vendor)
        mark = "%s" if self.pg else "?"
        insert = f"INSERT INTO eventstore_event ({EVENT_COLUMNS}) VALUES ({', '.join([mark] * 12)})"
        connection.ensure_connection()
        log("raw executemany INSERT")
        with self.timed("executemany") as t:
            for chunk in self.chunks(rows):
                with transaction.atomic():
                    cursor = connection.connection.cursor()
                    cursor.executemany(insert, [(*r[:9], _dumps(r[9]), _dumps(r[10]), r[11]) for r in chunk])
                    cursor.close()
                self.tick()
        assert self.count_events() == len(rows)
        self.add(Result("executemany", f"raw INSERT executemany x{self.args.batch}", len(rows), t["seconds"]))

    def bench_copy(self) -> None:
        from django.db import connection, transaction

        self.reset()
        rows = self.ds.raw_rows(self.vendor)
        connection.ensure_connection()
        log("raw COPY")
        with self.timed("copy") as t:
            for chunk in self.chunks(rows):
                with transaction.atomic():
                    cursor = connection.connection.cursor()
                    with cursor.copy(f"COPY eventstore_event ({EVENT_COLUMNS}) FROM STDIN") as copy:
                        for r in chunk:
                            copy.write_row((*r[:9], _dumps(r[9]), _dumps(r[10]), r[11]))
                    cursor.close()
                self.tick()
        assert self.count_events() == len(rows)
        self.add(Result("copy", f"raw COPY x{self.args.batch}", len(rows), t["seconds"], baseline="executemany"))

    def bench_orm(self) -> None:
        """ORM bulk_create into an unmanaged copy of the event table (Event refuses bulk_create by design)."""
        from django.db import connection, models, transaction

        class BenchEventCopy(models.Model):
            position = models.BigAutoField(primary_key=True)
            id = models.UUIDField(unique=True)
            stream = models.CharField(max_length=200)
            version = models.PositiveIntegerField()
            type = models.CharField(max_length=100, db_index=True)
            schema_version = models.PositiveSmallIntegerField(default=1)
            channel = models.CharField(max_length=16, null=True, blank=True)  # noqa: DJ001
            customer_id = models.UUIDField(null=True, blank=True)
            occurred_at = models.DateTimeField()
            recorded_at = models.DateTimeField()
            data = models.JSONField()
            metadata = models.JSONField(default=dict)
            digest = models.CharField(max_length=64)

            class Meta:
                app_label = "benchmarks"
                db_table = "bench_event_copy"
                managed = False
                constraints = [models.UniqueConstraint(fields=["stream", "version"], name="bench_copy_stream_version")]
                indexes = [
                    models.Index(fields=["customer_id", "-occurred_at"], name="bench_copy_timeline"),
                    models.Index(fields=["channel", "occurred_at"], name="bench_copy_channel_time"),
                ]

            def __str__(self) -> str:
                return str(self.position)

        ds = self.ds
        with connection.schema_editor() as editor:
            editor.create_model(BenchEventCopy)
        try:
            self.settle()
            recorded_at = datetime.now(UTC)
            log("ORM bulk_create (copy table)")
            with self.timed("orm") as t:
                for start in range(0, len(ds.specs), self.args.batch):
                    end = start + self.args.batch
                    objs = [
                        BenchEventCopy(
                            id=spec.id,
                            stream=stream,
                            version=version,
                            type=spec.type,
                            channel=spec.channel,
                            customer_id=ds.customer_ids[spec.customer],
                            occurred_at=spec.occurred_at,
                            recorded_at=recorded_at,
                            data=spec.data,
                            metadata=spec.metadata,
                            digest=hashlib.sha256(spec.id.bytes).hexdigest(),
                        )
                        for spec, stream, version in zip(
                            ds.specs[start:end], ds.streams[start:end], ds.versions[start:end], strict=True
                        )
                    ]
                    with transaction.atomic():
                        BenchEventCopy.objects.bulk_create(objs)
            self.add(
                Result(
                    "orm",
                    f"ORM bulk_create x{self.args.batch} (copy table)",
                    len(ds.specs),
                    t["seconds"],
                    baseline="executemany",
                )
            )
        finally:
            with connection.schema_editor() as editor:
                editor.delete_model(BenchEventCopy)

    # -- service layer

    def bench_append_batches(self) -> None:
        from backoffice.eventstore import store

        self.reset()
        appends = self.ds.stream_appends()
        log("store.append_batches")
        with self.timed("append_batches") as t:
            for chunk in self.chunks(appends):
                store.append_batches(chunk)
                self.tick()
        assert self.count_events() == len(appends)
        self.add(
            Result(
                "append_batches",
                f"store.append_batches x{self.args.batch}",
                len(appends),
                t["seconds"],
                baseline="executemany",
                **self._service_target("append_batches", t["seconds"], len(appends)),
            )
        )

    def bench_ingest(self) -> None:
        from customers import services

        self.reset()
        items = self.ds.raw_items()
        log("customers.services.interactions_ingest")
        with self.timed("ingest") as t:
            for chunk in self.chunks(items):
                services.interactions_ingest(raw_items=chunk, actor="bench")
                self.tick()
        stored = self.count_events()
        rate = len(items) / t["seconds"]
        note = [f"({self.identity_summary(stored - len(items))}; {stored / t['seconds']:,.0f} stored ev/s)"]
        if base := self.results.get("executemany"):
            note.append(f"({rate / base.rate:.2f}x raw executemany)")
        if copy := self.results.get("copy"):
            note.append(f"({rate / copy.rate:.2f}x raw COPY)")
        reference = self.results.get("append_batches")
        ratio = rate / reference.rate if reference else None
        self.add(
            Result(
                "ingest",
                f"interactions_ingest x{self.args.batch}",
                len(items),
                t["seconds"],
                baseline="append_batches" if reference else "executemany",
                target=f">= {TARGET_INGEST_RATIO:.0%} append_batches",
                met=None if ratio is None else ratio >= TARGET_INGEST_RATIO,
                note=" ".join(note),
            )
        )

    def identity_summary(self, identity_events: int) -> str:
        """What identity resolution did, read back from the log: registrations, additions, names, merges by kind."""
        from django.db import connection

        from backoffice.eventstore import store

        with connection.cursor() as cursor:
            cursor.execute("SELECT type, COUNT(*) FROM eventstore_event WHERE type LIKE 'customer.%' GROUP BY type")
            counts = dict(cursor.fetchall())
        merges = store.read_all(limit=10**9, types=["customer.merged"])
        anonymous = sum(1 for e in merges if e.data["evidence"]["identifier_kinds"] == ["anonymous_id"])
        return (
            f"+{identity_events:,} identity events: {counts.get('customer.registered', 0):,} registered, "
            f"{counts.get('customer.identifier_added', 0):,} identifiers added, "
            f"{counts.get('customer.profile_updated', 0):,} names, {len(merges):,} merges "
            f"({len(merges) - anonymous:,} by email + phone, {anonymous:,} of anonymous profiles)"
        )

    def _service_target(self, key: str, seconds: float, events: int) -> dict[str, Any]:
        rate = events / seconds
        if self.pg:
            base = self.results.get("executemany")
            ratio = rate / base.rate if base else None
            met = rate >= TARGET_SERVICE_PG and (ratio is None or ratio >= TARGET_SERVICE_PG_RATIO)
            copy = self.results.get("copy")
            note = f"({rate / copy.rate:.2f}x raw COPY)" if copy else ""
            return {"target": f">= {TARGET_SERVICE_PG:,}/s & >= 30% raw", "met": met, "note": note}
        return {"target": f">= {TARGET_SERVICE_SQLITE:,}/s", "met": rate >= TARGET_SERVICE_SQLITE}

    def bench_projections(self) -> None:
        """Catch-up of every asynchronous projection over the log interactions_ingest left."""
        from backoffice.eventstore import projector

        if "ingest" not in self.results:
            self.bench_ingest()
        self.settle()
        stored = self.count_events()
        log("projector.catch_up_all")
        with self.timed("projections") as t:
            counts = projector.catch_up_all()
        assert all(count == stored for count in counts.values()), counts
        names = ", ".join(sorted(counts))
        self.add(
            Result(
                "projections",
                f"catch_up_all ({len(counts)} async projections)",
                stored,
                t["seconds"],
                note=f"({names}; each reads all {stored} events)",
            )
        )

    # -- HTTP

    def bench_http(self) -> None:
        from rest_framework.test import APIClient

        from backoffice.accounts.services import api_token_issue, staff_user_save

        self.reset()
        user = staff_user_save(username="bench-integration", role="integration")
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user)}")
        items = self.ds.raw_items()
        bodies = [json.dumps({"events": list(chunk)}).encode() for chunk in self.chunks(items)]
        log("POST /api/v1/events")
        with self.timed("http") as t:
            for body in bodies:
                response = client.post("/api/v1/events", data=body, content_type="application/json")
                if response.status_code != 201:
                    raise RuntimeError(f"POST /api/v1/events answered {response.status_code}: {response.content[:500]}")
                self.tick()
        self.add(
            Result(
                "http",
                f"POST /api/v1/events x{self.args.batch}",
                len(items),
                t["seconds"],
                baseline="executemany",
                target=f">= {TARGET_HTTP:,}/s",
                met=len(items) / t["seconds"] >= TARGET_HTTP,
                note="(APIClient, token auth, full middleware; JSON body pre-encoded)",
            )
        )

    # -- single appends

    def bench_single(self) -> None:
        """One event per call with expected_version, on a log that already holds the batched events."""
        from django.db import connection, transaction

        from backoffice.eventstore import store

        if self.count_events() == 0:
            self.bench_append_batches()
        count = self.args.single
        rng = random.Random(self.args.seed + 1)

        def event(n: int, cart: str) -> Any:
            return store.NewEvent(
                type="cart.item_added",
                data={"cart_id": cart, "sku": f"SKU-{n % 500:04d}", "quantity": 1, "unit_price": "19.90"},
                channel="web",
                customer_id=self.ds.customer_ids[rng.randrange(len(self.ds.customer_ids))],
                metadata=self.ds.specs[n % len(self.ds.specs)].metadata,
            )

        # Raw floor: one INSERT and one COMMIT per event through the driver.
        mark = "%s" if self.pg else "?"
        insert = f"INSERT INTO eventstore_event ({EVENT_COLUMNS}) VALUES ({', '.join([mark] * 12)})"
        connection.ensure_connection()
        self.settle()
        latencies = []
        log("raw single INSERT + COMMIT")
        with self.timed("single_raw") as t:
            for n in range(count):
                new = event(n, f"raw-{n}")
                now = datetime.now(UTC)
                row = (
                    (new.id, f"cart-raw-{n}", 1, new.type, 1, new.channel, new.customer_id, now, now)
                    if self.pg
                    else (
                        new.id.hex,
                        f"cart-raw-{n}",
                        1,
                        new.type,
                        1,
                        new.channel,
                        new.customer_id.hex,
                        _sqlite_datetime(now),
                        _sqlite_datetime(now),
                    )
                )
                start = time.perf_counter()
                with transaction.atomic():
                    cursor = connection.connection.cursor()
                    cursor.execute(insert, (*row, _dumps(new.data), _dumps(new.metadata), "0" * 64))
                    cursor.close()
                latencies.append((time.perf_counter() - start) * 1000)
        self.add(
            Result(
                "single_raw",
                "raw 1-row INSERT + COMMIT",
                count,
                t["seconds"],
                latencies_ms=latencies,
            )
        )

        for key, label, hot in (
            ("single_distinct", "store.append 1 event, new streams", False),
            ("single_same", "store.append 1 event, one hot stream", True),
        ):
            self.settle()
            latencies = []
            log(label)
            with self.timed(key) as t:
                for n in range(count):
                    cart = "hot" if hot else f"single-{n}"
                    new = event(n, cart)
                    start = time.perf_counter()
                    store.append(f"cart-{cart}", [new], expected_version=n if hot else store.NO_STREAM)
                    latencies.append((time.perf_counter() - start) * 1000)
            rate = count / t["seconds"]
            p99 = sorted(latencies)[min(count - 1, round(0.99 * (count - 1)))]
            self.add(
                Result(
                    key,
                    label,
                    count,
                    t["seconds"],
                    baseline="single_raw",
                    target=f">= {TARGET_SINGLE_RATE:,}/s & p99 < {TARGET_SINGLE_P99_MS:.0f} ms",
                    met=rate >= TARGET_SINGLE_RATE and p99 < TARGET_SINGLE_P99_MS,
                    latencies_ms=latencies,
                )
            )

    # -- catch-up read

    def bench_read(self) -> None:
        from django.db import connection

        from backoffice.eventstore import store

        if self.count_events() == 0:
            self.bench_append_batches()
        total = self.count_events()
        page = self.args.read_page
        mark = "%s" if self.pg else "?"
        select = f"SELECT {READ_COLUMNS} FROM eventstore_event WHERE position > {mark} ORDER BY position LIMIT {mark}"
        connection.ensure_connection()

        def raw_pass() -> int:
            cursor = connection.connection.cursor()
            after, seen = 0, 0
            while True:
                cursor.execute(select, (after, page))
                rows = cursor.fetchall()
                if not rows:
                    break
                seen += len(rows)
                after = rows[-1][0]
            cursor.close()
            return seen

        self.settle()
        raw_pass()  # warm the caches for both readers alike
        log("raw keyset SELECT")
        with self.timed("read_raw") as t:
            seen = raw_pass()
        assert seen == total
        self.add(Result("read_raw", f"raw SELECT ORDER BY position, pages of {page}", seen, t["seconds"]))

        log("store.read_all")
        with self.timed("read") as t:
            after, seen = 0, 0
            while True:
                events = store.read_all(after=after, limit=page)
                if not events:
                    break
                seen += len(events)
                after = events[-1].position
        assert seen == total
        self.add(
            Result(
                "read",
                f"store.read_all(limit={page})",
                seen,
                t["seconds"],
                baseline="read_raw",
                target=f">= {TARGET_READ:,}/s",
                met=seen / t["seconds"] >= TARGET_READ,
                note="(decodes JSON, opens sealed personal fields, upcasts)",
            )
        )

    # -- the run

    def run(self) -> None:
        from django.test.utils import override_settings

        # No after-commit hook: with an eager Celery the async projections would catch up inside every append.
        # catch_up_all() is measured on its own.
        steps = [
            ("executemany", self.bench_executemany),
            ("copy", self.bench_copy if self.pg else None),
            ("orm", self.bench_orm),
            ("append_batches", self.bench_append_batches),
            ("single", self.bench_single),
            ("read", self.bench_read),
            ("ingest", self.bench_ingest),
            ("rounds", self.more_rounds),
            ("projections", self.bench_projections),
            ("http", self.bench_http),
        ]
        with override_settings(EVENTSTORE_AFTER_COMMIT_HOOKS=[]):
            for key, step in steps:
                if step is not None and (self.wanted(key) or key == "rounds"):
                    step()

    def more_rounds(self) -> None:
        """Rounds 2..N of append_batches and interactions_ingest, alternating, so a load that drifts (other processes
        on the machine) weighs on both alike; the report keeps the median of each. The last ingest's log stays for
        the projections benchmark."""
        for round_ in range(2, self.args.rounds + 1):
            log(f"round {round_} of {self.args.rounds}")
            if self.wanted("append_batches"):
                self.bench_append_batches()
            if self.wanted("ingest"):
                self.bench_ingest()


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --------------------------------------------------------------------------------------------------------------
# Report


def report(bench: Bench, header: list[str]) -> str:
    lines = [*header, ""]
    columns = ("benchmark", "events", "seconds", "events/s", "vs baseline", "target", "met")
    rows = []
    for result in bench.results.values():
        ratio = ""
        if result.baseline and result.baseline in bench.results:
            ratio = f"{result.rate / bench.results[result.baseline].rate:.2f}x {result.baseline}"
        rows.append(
            (
                result.name,
                f"{result.events:,}",
                f"{result.seconds:.2f}",
                f"{result.rate:,.0f}",
                ratio,
                result.target or "-",
                {True: "yes", False: "NO", None: ""}[result.met],
            )
        )
    widths = [max(len(columns[i]), *(len(row[i]) for row in rows)) for i in range(len(columns))]
    align = ("<", ">", ">", ">", "<", "<", "<")

    def fmt(row: Sequence[str]) -> str:
        return "  ".join(f"{cell:{a}{w}}" for cell, a, w in zip(row, align, widths, strict=True)).rstrip()

    lines.append(fmt(columns))
    lines.append("  ".join("-" * w for w in widths))
    lines.extend(fmt(row) for row in rows)

    latency_rows = [r for r in bench.results.values() if r.latencies_ms]
    if latency_rows:
        lines += ["", "Latency per call (ms):"]
        for r in latency_rows:
            lines.append(
                f"  {r.name:<40} p50 {r.percentile(50):6.2f}  p90 {r.percentile(90):6.2f}  "
                f"p99 {r.percentile(99):6.2f}  max {max(r.latencies_ms):7.2f}"
            )
    notes = [r for r in bench.results.values() if r.note or r.analyzes]
    if notes:
        lines += ["", "Notes:"]
        for r in notes:
            analyzed = f"[{r.analyzes} ANALYZE runs, {r.analyze_seconds:.2f}s, not counted]" if r.analyzes else ""
            lines.append(f"  {r.name}: {' '.join(filter(None, [r.note, analyzed]))}")
    return "\n".join(lines)


def environment_header(args: argparse.Namespace, description: str, dataset: Dataset, started: datetime) -> list[str]:
    import django
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SHOW server_version")
            db_version = "PostgreSQL " + cursor.fetchone()[0]
            settings_shown = []
            for name in ("synchronous_commit", "autovacuum", "shared_buffers"):
                cursor.execute(f"SHOW {name}")
                settings_shown.append(f"{name}={cursor.fetchone()[0]}")
            db_version += f" ({', '.join(settings_shown)})"
        else:
            cursor.execute("SELECT sqlite_version()")
            db_version = "SQLite " + cursor.fetchone()[0]
            settings_shown = []
            for name in ("journal_mode", "synchronous", "cache_size", "mmap_size", "wal_autocheckpoint"):
                cursor.execute(f"PRAGMA {name}")
                settings_shown.append(f"{name}={cursor.fetchone()[0]}")
            db_version += f" ({', '.join(settings_shown)})"
    return [
        f"Event store ingestion benchmark, {started:%Y-%m-%d %H:%M} UTC; code: {code_version()}",
        f"database: {db_version}; {description}",
        f"python {platform.python_version()}, Django {django.get_version()}, {os.cpu_count()} CPUs, "
        f"{platform.machine()} {platform.system()}",
        f"events: {args.events:,} in batches of {args.batch}; {args.customers:,} customers; rounds {args.rounds}; "
        f"single appends: {args.single:,}; read pages: {args.read_page:,}; seed {args.seed}",
        f"payload: {dataset.payload_bytes():.0f} B of data + metadata JSON per event on average; mix "
        + ", ".join(f"{name} {weight}%" for name, weight in TYPE_MIX),
        f"identities (ingest, http): {dataset.identity.describe(len(dataset.specs))}",
        "load average at the start (1, 5, 15 min): "
        + ", ".join(f"{load:.2f}" for load in os.getloadavg())
        + " (other processes on this machine slow every figure; the ratios are within one run)",
        "writes run with EVENTSTORE_AFTER_COMMIT_HOOKS=[]; each write benchmark starts on emptied tables"
        + (
            "; ANALYZE after 50 + 10% growth stands in for autovacuum, its time excluded"
            if connection.vendor == "postgresql" and not args.no_autoanalyze
            else ""
        ),
    ]


def main(argv: Sequence[str] | None = None) -> int:
    parser = benchmark_parser(__doc__)
    parser.add_argument("--events", type=int, default=100_000, help="events per batched benchmark (100000)")
    parser.add_argument("--batch", type=int, default=500, help="events per batch (500)")
    parser.add_argument("--single", type=int, default=5_000, help="single appends per variant (5000)")
    parser.add_argument("--customers", type=int, default=20_000, help="size of the customer pool (20000)")
    parser.add_argument("--read-page", type=int, default=5_000, help="limit of each catch-up read (5000)")
    parser.add_argument("--seed", type=int, default=20260101)
    parser.add_argument(
        "--rounds", type=int, default=1, help="rounds of append_batches and ingest, alternating; medians reported (1)"
    )
    parser.add_argument("--only", help=f"comma-separated subset of: {', '.join(BENCHMARKS)}")
    parser.add_argument("--profile", choices=("cprofile", "pyinstrument"), help="profile every timed section")
    parser.add_argument("--profile-dir", default=str(Path(tempfile.gettempdir()) / "backoffice-bench-profiles"))
    parser.add_argument(
        "--no-autoanalyze",
        action="store_true",
        help="PostgreSQL: do not stand in for autovacuum's ANALYZE while tables grow (see Bench.tick)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the SQLite file (PostgreSQL databases are kept)")
    args = parser.parse_args(argv)
    if args.only and (unknown := set(args.only.split(",")) - set(BENCHMARKS)):
        parser.error(f"unknown benchmarks: {', '.join(sorted(unknown))}")

    started = datetime.now(UTC)
    clock = time.perf_counter()
    url, cleanup, description = prepare_database(os.environ.get("DATABASE_URL"))
    try:
        log(f"setting up {description}")
        setup_django(url)
        log(f"generating {args.events:,} events")
        dataset = make_dataset(args.events, args.customers, args.seed)
        bench = Bench(args, dataset)
        header = environment_header(args, description, dataset, started)
        bench.run()
        text = report(bench, header)
        text += f"\n\ntotal run time {time.perf_counter() - clock:.0f}s; load average at the end: " + ", ".join(
            f"{load:.2f}" for load in os.getloadavg()
        )
        print(text, flush=True)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            log(f"kept {description}")
        else:
            cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
