from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from backoffice.eventstore import partitioning
from backoffice.eventstore.backends import recorder


def _month(value: str) -> date:
    try:
        return date.fromisoformat(f"{value}-01")
    except ValueError:
        raise CommandError(f"{value!r} is not a month: YYYY-MM") from None


class Command(BaseCommand):
    help = (
        "The event log's monthly partitions (PostgreSQL): list them, create the next ones, detach old ones into the "
        "archive schema, or attach the archived ones again before a rebuild that must read them."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--ahead", type=int, help="create this month's partition and the N next ones")
        parser.add_argument("--detach-before", metavar="YYYY-MM", help="archive every partition before this month")
        parser.add_argument("--attach-archived", action="store_true", help="attach every archived partition again")

    def handle(
        self, *args: Any, ahead: int | None, detach_before: str | None, attach_archived: bool, **options: Any
    ) -> None:
        if not recorder().has_partitions:
            self.stdout.write("This database keeps the log in one table (SQLite): no partitions.")
            return
        if ahead is not None:
            if ahead < 0:
                raise CommandError("--ahead must be 0 or more")
            for name in partitioning.partitions_create_ahead(ahead=ahead):
                self.stdout.write(f"created {name}")
        if detach_before:
            for name in partitioning.partitions_detach_before(_month(detach_before)):
                self.stdout.write(f"archived {name} as {partitioning.ARCHIVE_SCHEMA}.{name}")
        if attach_archived:
            for name in partitioning.partitions_attach_archived():
                self.stdout.write(f"attached {name}")
        for name, first, archived in recorder().partitions():
            self.stdout.write(f"{first[:7]}\t{name}\t{'archived' if archived else 'attached'}")
