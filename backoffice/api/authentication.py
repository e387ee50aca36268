"""DRF token authentication in one query: accounts' `api_token_lookup` reads the token (by the digest of the key), its
expiry, its user and the user's staff profile at once (the hottest read of all: every API request authenticates);
this layer only turns its answer into DRF's.
"""

from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from rest_framework import authentication, exceptions

from backoffice.accounts.selectors import api_token_lookup, two_factor_step_due


class VerifiedSessionAuthentication(authentication.SessionAuthentication):
    """The staff's browser session, once it has passed the second factor where one is due (the same door as the admin
    and staff pages: backoffice.accounts.middleware). A session still owing a code is no authentication at all."""

    def authenticate(self, request):
        result = super().authenticate(request)
        if result is not None and two_factor_step_due(user=result[0]) is not None:
            return None
        return result


class TokenExpired(exceptions.AuthenticationFailed):
    """A 401 of its own problem type (`token_expired`, with `expired_at`), so a client can tell "get a new token" from
    "this was never a token" (problems.py renders `problem_type`, `problem_title` and `problem_members`)."""

    default_code = "token_expired"
    problem_type = "token_expired"
    problem_title = "The token has expired"

    def __init__(self, expired_at):
        self.problem_members = {"expired_at": expired_at.isoformat()}
        super().__init__(
            f"this token expired at {expired_at.isoformat()}; ask for a new one "
            "(manage.py api_token USERNAME --rotate prints it)"
        )


class TokenAuthentication(authentication.TokenAuthentication):
    def authenticate_credentials(self, key):
        found = api_token_lookup(key=key)
        if found is None:
            raise exceptions.AuthenticationFailed(_("Invalid token."))
        if found.expires_at is not None and found.expires_at <= timezone.now():
            raise TokenExpired(found.expires_at)
        if not found.user.is_active:
            raise exceptions.AuthenticationFailed(_("User inactive or deleted."))
        return found.user, found.token
