"""API tokens from the command line. Keys are stored as digests: a key is printed once, when issued, alone on the last
line, and can never be printed again (issue or rotate to get a new one)."""

from datetime import timedelta

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from backoffice.accounts.models import Role
from backoffice.accounts.services import api_token_issue, api_token_revoke, api_token_rotate, staff_user_save


class Command(BaseCommand):
    help = (
        "Issue an API token for USERNAME and print it alone on the last line (--create makes the user with a role); "
        "--rotate: a new token, the old ones valid for a grace period; --revoke: end them now; --list: show them."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--create", action="store_true", help="create the user, or update its role")
        parser.add_argument("--role", choices=Role.values)
        parser.add_argument("--location", default="", help="location code (store staff only)")
        action = parser.add_mutually_exclusive_group()
        action.add_argument(
            "--rotate", action="store_true", help="issue a new token; the others expire after the grace period"
        )
        action.add_argument("--revoke", nargs="?", const="", metavar="PREFIX", help="end the tokens (starting with)")
        action.add_argument("--list", action="store_true", help="list the tokens (start, created, expiry)")
        parser.add_argument("--grace-hours", type=int, help="with --rotate (default API_TOKEN_ROTATION_GRACE_HOURS)")
        parser.add_argument("--expires-in-days", type=int, help="lifetime of the new token (0: never expires)")

    def handle(self, *args, username, create, role, location, rotate, revoke, list, grace_hours, expires_in_days, **o):
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
        if list:
            now = timezone.now()
            for token in user.api_tokens.order_by("created_at"):
                state = "valid" if token.is_valid_at(now) else "expired"
                expiry = token.expires_at.isoformat() if token.expires_at else "never"
                self.stdout.write(f"{token.prefix}…  created {token.created_at.isoformat()}  expires {expiry}  {state}")
            return
        if revoke is not None:
            self.stdout.write(f"{api_token_revoke(user=user, prefix=revoke)} token(s) revoked")
            return
        if rotate:
            grace = timedelta(hours=grace_hours) if grace_hours is not None else None
            key = api_token_rotate(user=user, grace=grace)
            self.stderr.write("The previous tokens stop working at the end of the grace period.")
        else:
            lifetime = True if expires_in_days is None else (timedelta(days=expires_in_days) or None)
            key = api_token_issue(user=user, lifetime=lifetime)
        self.stderr.write("Keep this token now: it is stored as a digest and cannot be shown again.")
        self.stdout.write(key)
