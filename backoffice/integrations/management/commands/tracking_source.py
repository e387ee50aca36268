"""python manage.py tracking_source NAME --channel CHANNEL [--revoke]: create (or revoke) a tracking source.

Prints the write key alone on its last line (issue 12's contract): it is shown once, only its hash is kept.
"""

from django.core.management.base import BaseCommand, CommandError

from backoffice.eventstore.schema import CHANNELS
from backoffice.integrations import services


class Command(BaseCommand):
    help = "Create a tracking source (Segment-spec write key) and print its key on the last line, or revoke it."

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--channel", choices=CHANNELS, help="the channel of every event the source sends")
        parser.add_argument("--revoke", action="store_true", help="revoke the source's key")
        parser.add_argument(
            "--user-id-system", default="", help="namespace of the source's userIds (shared by sources of one shop)"
        )
        parser.add_argument(
            "--order-location",
            default="",
            help="only for a shop with no platform webhook: its Order Completed events place orders from this location",
        )

    def handle(self, *args, name, channel, revoke, user_id_system, order_location, **options):
        try:
            if revoke:
                source = services.tracking_source_revoke(name=name)
                self.stdout.write(f"revoked {source.name}")
                return
            if not channel:
                raise CommandError("--channel is required to create a source")
            created = services.tracking_source_create(
                name=name, channel=channel, user_id_system=user_id_system, order_location=order_location
            )
        except services.SourceRefused as exc:
            raise CommandError(f"{exc.field}: {exc}") from None
        self.stdout.write(f"source {created.source.name} on channel {created.source.channel}; its write key:")
        self.stdout.write(created.write_key)
