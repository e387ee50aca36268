from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from backoffice.accounts.models import Role
from backoffice.accounts.services import api_token_get_or_create, staff_user_save


class Command(BaseCommand):
    help = "Print the API token of USERNAME (alone, on the last line); --create makes the user with a role."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user, or update its role")
        parser.add_argument("--role", choices=Role.values)
        parser.add_argument("--location", default="", help="location code (store staff only)")

    def handle(self, *args, username, create, role, location, **options):
        if create:
            if not role:
                raise CommandError("--create needs --role")
            try:
                user = staff_user_save(username=username, role=role, location_code=location)
            except ValidationError as exc:
                raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in exc.message_dict.items())) from exc
        else:
            user = get_user_model().objects.filter(username=username).first()
            if user is None:
                raise CommandError(f"no user {username!r}; use --create --role ROLE")
        self.stdout.write(api_token_get_or_create(user=user))
