"""The second factor at the door of the admin and the staff pages.

A password login only opens a session; until that session has given a code (django-otp's `is_verified()`), a user with
two-factor on is sent to the code page, and a user whose role requires two-factor (TWO_FACTOR_REQUIRED_ROLES) to the
enrolment page. The API's session authentication applies the same rule (backoffice.api.authentication).
"""

from django.shortcuts import redirect
from django.urls import reverse
from django.utils.http import urlencode

from .selectors import two_factor_step_due

GUARDED_PREFIXES = ("/admin/", "/staff/")
# What a half-signed-in session may still reach: the way in, the way out, and the two-factor pages themselves.
OPEN_PATHS = ("/staff/login/", "/staff/logout/", "/staff/two-factor/", "/admin/login/", "/admin/logout/")
STEP_PAGES = {"verify": "staff:two_factor_verify", "enrol": "staff:two_factor"}


class TwoFactorMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path
        if path.startswith(GUARDED_PREFIXES) and not path.startswith(OPEN_PATHS):
            step = two_factor_step_due(user=request.user)
            if step is not None:
                return redirect(f"{reverse(STEP_PAGES[step])}?{urlencode({'next': request.get_full_path()})}")
        return self.get_response(request)
