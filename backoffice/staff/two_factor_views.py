"""Two-factor pages: turning it on (authenticator app, then recovery codes), giving a code after the password, new
recovery codes, turning it off. Acts through backoffice.accounts.services; the door is accounts' TwoFactorMiddleware.

Secrets and recovery codes are shown exactly once, in the response that created them: reloading the enrolment page
draws a new secret, and recovery codes are never shown again (new ones can be made).
"""

from base64 import b32encode

import django_otp
import segno
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views import View

from backoffice.accounts import selectors as account_selectors
from backoffice.accounts import services as account_services

from .access import UI_ROLES, error_page, staff_context

ENROLMENT_SESSION_KEY = "two_factor_enrolment_device"


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("staff:home")


def _secret_groups(device) -> str:
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


class _TwoFactorPage(View):
    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path(), reverse("staff:login"))
        if account_selectors.user_role(user=request.user) not in UI_ROLES:
            return error_page(request, 403, _("This account has no staff pages."))
        return super().dispatch(request, *args, **kwargs)

    def render(self, template: str, status: int = 200, **context):
        context = {**staff_context(self.request), "next": _next_url(self.request), **context}
        return TemplateResponse(self.request, f"staff/two_factor/{template}.html", context, status=status)


class TwoFactorView(_TwoFactorPage):
    """/staff/two-factor/: the state of two-factor, and enrolment."""

    def get(self, request):
        if account_selectors.two_factor_device(user=request.user) is not None:
            if not request.user.is_verified():
                return redirect(f"{reverse('staff:two_factor_verify')}?next={reverse('staff:two_factor')}")
            return self._status()
        return self._enrolment()

    def post(self, request):
        action = request.POST.get("action")
        enrolled = account_selectors.two_factor_device(user=request.user) is not None
        if enrolled and not request.user.is_verified():
            return redirect(f"{reverse('staff:two_factor_verify')}?next={reverse('staff:two_factor')}")
        if action == "confirm":
            return self._confirm()
        if enrolled and action == "recovery_codes":
            codes = account_services.two_factor_recovery_codes_renew(user=request.user)
            return self.render("recovery_codes", codes=codes)
        if enrolled and action == "disable":
            try:
                account_services.two_factor_disable(user=request.user)
            except ValidationError:
                return self._status(error=_("Your role requires two-factor authentication: it cannot be turned off."))
            return self.render("status", enrolled=False, required=False, is_off_now=True)
        return error_page(request, 400)

    def _status(self, error: str = "", status: int = 200):
        user = self.request.user
        return self.render(
            "status",
            status=status,
            enrolled=True,
            required=account_selectors.two_factor_is_required(user=user),
            recovery_codes_left=account_selectors.two_factor_recovery_codes_left(user=user),
            error=error,
        )

    def _enrolment(self):
        device = account_services.two_factor_enrolment_start(user=self.request.user)
        self.request.session[ENROLMENT_SESSION_KEY] = device.id
        qr_code = segno.make(device.config_url, error="m").svg_data_uri(scale=5, border=2)
        return self.render(
            "enrol",
            qr_code=qr_code,
            secret=_secret_groups(device),
            required=account_selectors.two_factor_is_required(user=self.request.user),
        )

    def _confirm(self):
        device_id = self.request.session.get(ENROLMENT_SESSION_KEY)
        try:
            device, codes = account_services.two_factor_enrolment_confirm(
                user=self.request.user, device_id=device_id or 0, token=self.request.POST.get("token", "")
            )
        except ValidationError as exc:
            # The secret is not shown again: the page offers to start over with a new one.
            return self.render("enrol", status=400, error=" ".join(exc.message_dict.get("token", [])))
        del self.request.session[ENROLMENT_SESSION_KEY]
        django_otp.login(self.request, device)
        return self.render("recovery_codes", codes=codes, is_new=True)


class TwoFactorVerifyView(_TwoFactorPage):
    """/staff/two-factor/verify/: the code after the password (from the app, or a recovery code)."""

    def get(self, request):
        if request.user.is_verified() or account_selectors.two_factor_device(user=request.user) is None:
            return redirect(_next_url(request))
        return self.render("verify")

    def post(self, request):
        device = account_services.two_factor_verify(user=request.user, token=request.POST.get("token", ""))
        if device is None:
            return self.render("verify", status=400, error=_("The code is not valid. Type the one your app shows now."))
        django_otp.login(request, device)
        return redirect(_next_url(request))
