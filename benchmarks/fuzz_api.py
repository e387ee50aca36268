"""Fuzz the API with schemathesis from its own OpenAPI schema, every operation, as an admin, against the production
server (gunicorn, production settings) on loopback; print how many cases ran and what failed.

    .venv/bin/python benchmarks/fuzz_api.py                      # SQLite, demo data, ~10 minutes
    .venv/bin/python benchmarks/fuzz_api.py --max-examples 5 --phases examples,fuzzing   # quicker
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bo_fuzz_bench .venv/bin/python benchmarks/fuzz_api.py

The checks are schemathesis' response checks: no 5xx, every status code documented, content types, response
headers and bodies conforming to the schema. Exit status 1 when any failed. The test suite runs this at a tiny
size (tests/deploy/test_fuzz_api.py).
"""

import argparse
import json
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.support.production_server import start_production_server, stop_production_server  # noqa: E402


def _recreate_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


BIN = Path(sys.executable).parent
# Responses must conform. Not asked here: negative_data_rejection (schemathesis expects a 4xx for any value the
# schema would refuse; the API deliberately reads `?x=` as absent, a JSON number where a decimal string is expected,
# and form-encoded booleans as HTML checkboxes), and the checks that need links between operations.
CHECKS = (
    "not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,"
    "response_headers_conformance"
)


@dataclass
class FuzzReport:
    operations: int = 0
    cases: int = 0
    failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    exit_code: int = 0
    output: str = ""

    @property
    def server_errors(self) -> int:
        return self.failures.get("ST101", 0)


def fuzz(server, *, max_examples: int, phases: str, workers: int, seed: int, max_time: int | None = None) -> FuzzReport:
    request = urllib.request.Request(  # noqa: S310 - loopback
        f"{server.base_url}/api/v1/schema/?format=json", headers={"Authorization": f"Token {server.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
        schema = json.loads(answer.read())
    operations = sum(
        1 for item in schema["paths"].values() for method in item if method in ("get", "post", "put", "patch", "delete")
    )
    with tempfile.TemporaryDirectory() as directory:
        schema_file = Path(directory) / "schema.json"
        schema_file.write_text(json.dumps(schema))
        command = [
            str(BIN / "schemathesis"), "run", str(schema_file), "--url", server.base_url,
            "-H", f"Authorization: Token {server.token}",
            "--checks", CHECKS, "--max-examples", str(max_examples), "--phases", phases,
            "--workers", str(workers), "--seed", str(seed), "--no-color",
        ]  # fmt: skip
        if max_time:
            command += ["--max-time", str(max_time)]
        started = time.perf_counter()
        result = subprocess.run(command, cwd=directory, capture_output=True, text=True, check=False)  # noqa: S603
    report = FuzzReport(operations=operations, seconds=time.perf_counter() - started, exit_code=result.returncode)
    report.output = result.stdout + result.stderr
    generated = re.search(r"(\d[\d,]*) generated", report.output)
    report.cases = int(generated.group(1).replace(",", "")) if generated else 0
    for code, count in re.findall(r"(ST\d{3}) [^:\n]+: (\d+)", report.output):
        report.failures[code] = report.failures.get(code, 0) + int(count)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-examples", type=int, default=50)
    parser.add_argument("--phases", default="examples,coverage,fuzzing")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=16)
    parser.add_argument("--max-time", type=int, default=None, help="seconds for the whole run")
    parser.add_argument("--customers", type=int, default=60, help="demo customers seeded first (0: empty database)")
    parser.add_argument("--log", type=Path, default=None, help="write schemathesis' whole output here")
    args = parser.parse_args(argv)

    import os

    database_url = os.environ.get("DATABASE_URL") or None
    if database_url and "bench" not in database_url.rsplit("/", 1)[1]:
        sys.exit("the database name must contain 'bench' (it is filled with demo data and fuzzed)")
    if database_url:
        _recreate_database(database_url)
    with tempfile.TemporaryDirectory(prefix="backoffice-fuzz-") as directory:
        print("starting gunicorn with production settings...", file=sys.stderr)
        server = start_production_server(Path(directory), seed_customers=args.customers, database_url=database_url)
        try:
            report = fuzz(
                server,
                max_examples=args.max_examples,
                phases=args.phases,
                workers=args.workers,
                seed=args.seed,
                max_time=args.max_time,
            )
        finally:
            stop_production_server(server)
    if args.log:
        args.log.write_text(report.output)
    failures = report.output.find("=== FAILURES ===")
    print(report.output[failures:] if failures >= 0 else report.output[-6000:], file=sys.stderr)
    print(
        f"schemathesis against gunicorn ({'PostgreSQL' if database_url else 'SQLite'}), admin token, seed {args.seed}"
    )
    print(f"  operations in the schema : {report.operations}")
    print(f"  phases / max examples    : {args.phases} / {args.max_examples}")
    rate = report.cases / report.seconds if report.seconds else 0
    print(f"  generated cases          : {report.cases:,} in {report.seconds:.0f} s ({rate:.0f}/s)")
    print(f"  failures by check        : {report.failures or 'none'}")
    print(f"  server errors (5xx)      : {report.server_errors}")
    return 0 if report.exit_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
