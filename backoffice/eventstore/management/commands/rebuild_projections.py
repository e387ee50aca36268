import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.eventstore import projector
from backoffice.eventstore.models import ProjectionFailure


class Command(BaseCommand):
    help = "Empty projections and replay the whole event log through them (all, or the ones named)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("names", nargs="*", help="projection names; none means every projection")
        parser.add_argument("--list", action="store_true", help="list the projections and their lag, then stop")

    def handle(self, *args: Any, names: list[str], **options: Any) -> None:
        known = {p.name: p for p in projector.registered_projections()}
        if options["list"]:  # --list (read from options: a parameter of that name would hide the builtin)
            for name, proj in sorted(known.items()):
                self.stdout.write(f"{name}\t{proj.mode}\tlag {projector.lag(name)}")
            return
        unknown = sorted(set(names) - known.keys())
        if unknown:
            raise CommandError(f"unknown projection(s): {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        started = time.perf_counter()
        shown = [0.0]

        def progress(done: int, total: int) -> None:
            # A line every two seconds at most (and the last): a rebuild of millions of events takes minutes.
            now = time.perf_counter()
            if now - shown[0] >= 2 or done >= total:
                shown[0] = now
                self.stdout.write(f"replayed {done:,} of {total:,} events ({done / total:.0%})" if total else "")

        replayed = projector.rebuild(names or None, progress=progress)
        elapsed = time.perf_counter() - started
        for name, count in replayed.items():
            self.stdout.write(f"{name}: {count} events replayed")
        failures = ProjectionFailure.objects.filter(projection__in=[*replayed], resolved_at=None).count()
        if failures:
            self.stdout.write(
                self.style.WARNING(
                    f"{failures} event(s) could not be applied and were set aside: admin, Projection failures"
                )
            )
        self.stdout.write(self.style.SUCCESS(f"rebuilt {len(replayed)} projection(s) in {elapsed:.2f}s"))
