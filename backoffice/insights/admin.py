"""Insights in the admin: the dashboard (charts, tables, CSV per figure), each campaign's report (linked from the
campaign's page) and acquisition spend entry."""

import uuid
from decimal import Decimal

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.actors import request_actor
from backoffice.accounts.admin_read_only import ReadOnlyAdmin
from backoffice.accounts.admin_roles import RoleEditedAdmin, RoleGatedAdmin
from backoffice.accounts.admin_saves import RefusedSaveShownMixin, SaveRefused
from backoffice.accounts.roles import Role
from backoffice.eventstore.schema import CHANNELS
from campaigns.journeys.selectors import journeys_funnel
from campaigns.selectors import campaign_get
from customers.wording import channel_label

from . import charts, selectors
from .campaign_figures import campaign_report
from .figures import dashboard_figures, dashboard_sections, figure_csv
from .headline import headline, previous_period
from .models import AcquisitionSpend, Dashboard
from .params import RangeInvalid, day_span, metrics_query
from .services import SpendInvalid, acquisition_spend_change, acquisition_spend_check, acquisition_spend_set

DASHBOARD_ROLES = (Role.ADMIN, Role.MARKETING)


RANGE_FIELD_LABELS = {"from": _("From"), "to": _("To"), "channel": _("Channel"), "churn_days": _("Churn window (days)")}
RANGE_ERRORS = {
    "invalid_date": _("is not a date: choose one in the calendar."),
    "after_to": _("comes after “To”: choose an earlier day or swap them."),
    "range_too_long": _("makes the range longer than five years: shorten it."),
    "unknown_channel": _("is not one of our channels."),
    "invalid": _("must be a whole number of days from 1 to 3650."),
    "out_of_range": _("is outside the days we keep (%(first)s to %(last)s): choose a day in between."),
}


def range_error_text(error: RangeInvalid) -> str:
    """The range form's refusal in the staff's words: the field as the form labels it, and what to do."""
    text = RANGE_ERRORS.get(error.code, error.message)
    if error.code == "out_of_range":
        first, last = day_span()
        text = text % {"first": first.isoformat(), "last": last.isoformat()}
    return f"“{RANGE_FIELD_LABELS.get(error.field, error.field)}” {text}"


SPEND_REFUSALS = {
    "min_value": _("cannot be negative: enter what was spent (a refund from the network lowers that month's amount)."),
    "unknown_channel": _("is not one of our channels."),
    "taken": _("this channel already has a spend for that month: change that one instead."),
}


def spend_refusal_text(error: SpendInvalid) -> str:
    return str(SPEND_REFUSALS.get(error.code, error.message))


class SpendForm(forms.ModelForm):
    channel = forms.ChoiceField(label=_("channel"), choices=[(c, c) for c in CHANNELS])

    class Meta:
        model = AcquisitionSpend
        fields = ["channel", "month", "amount"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The service refuses a negative amount: the form says so on the field (and the browser's input stops at 0).
        self.fields["amount"] = AcquisitionSpend._meta.get_field("amount").formfield(min_value=Decimal(0))
        if self.instance.pk:
            self.fields["month"].help_text = _(
                "The first day of the month. Changing the channel or the month moves this amount there; it is not "
                "copied. To enter another month, add a new spend."
            )

    def clean_month(self):
        # The month is stored as its first day: the form's check of the (channel, month) constraint sees that key.
        month = self.cleaned_data["month"]
        return month.replace(day=1) if month else month

    def clean(self):
        cleaned = super().clean()
        if not self.errors:
            # What the save would refuse, on its field, before it is tried (the save checks again).
            try:
                acquisition_spend_check(
                    spend_id=self.instance.pk,
                    **{key: cleaned[key] for key in ("channel", "month", "amount")},
                )
            except SpendInvalid as exc:
                self.add_error(exc.field if exc.field in self.fields else None, spend_refusal_text(exc))
        return cleaned


@admin.register(AcquisitionSpend)
class AcquisitionSpendAdmin(RefusedSaveShownMixin, RoleEditedAdmin, admin.ModelAdmin):
    roles = DASHBOARD_ROLES
    form = SpendForm
    list_display = ["month", "channel", "amount", "updated_by", "updated_at"]
    list_filter = ["channel"]
    date_hierarchy = "month"

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        """Through the service. A refusal the form's own check could not see (another row saved in between) leaves
        Django's transaction of the save, which is rolled back, and the form is shown again with the reason."""
        spend = {key: form.cleaned_data[key] for key in ("channel", "month", "amount")}
        try:
            if change:
                # A corrected channel or month moves the row's amount (a copy would count it twice in CAC).
                saved = acquisition_spend_change(spend_id=obj.pk, **spend, actor=request_actor(request))
            else:
                saved = acquisition_spend_set(**spend, actor=request_actor(request))
        except SpendInvalid as exc:
            raise SaveRefused([(exc.field, spend_refusal_text(exc))]) from None
        obj.pk = saved.pk


@admin.register(Dashboard)
class DashboardAdmin(RoleGatedAdmin, ReadOnlyAdmin):
    roles = DASHBOARD_ROLES

    def get_urls(self):
        return [
            path("csv/<str:figure>/", self.admin_site.admin_view(self.csv_view), name="insights_dashboard_csv"),
            path(
                "campaign/<uuid:campaign_id>/",
                self.admin_site.admin_view(self.campaign_report_view),
                name="insights_campaign_report",
            ),
            *super().get_urls(),
        ]

    def _figures(self, request):
        query = metrics_query(request.GET)
        report = selectors.metrics_report(
            start=query.start, end=query.end, channel=query.channel, churn_days=query.churn_days
        )
        return query, report, dashboard_figures(report)

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        error, query, report, figures, cards, previous = None, None, None, [], [], None
        try:
            query, report, figures = self._figures(request)
            cards = headline(start=query.start, end=query.end, channel=query.channel, churn_days=query.churn_days)
            previous = previous_period(query.start, query.end)
        except RangeInvalid as exc:
            error = exc
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Insights dashboard"),
            "error": error,
            "error_text": range_error_text(error) if error else "",
            "query": query,
            "report": report,
            "figures": figures,
            "sections": dashboard_sections(figures),
            "cards": cards,
            "previous": previous,
            "channels": [(code, channel_label(code)) for code in CHANNELS],
            "params": request.GET.urlencode(),
            "form_values": request.GET,
            "journey_funnels": journeys_funnel(),
        }
        return TemplateResponse(request, "admin/insights/dashboard.html", context)

    def csv_view(self, request, figure):
        if not self.has_view_permission(request):
            raise PermissionDenied
        try:
            query, _report, figures = self._figures(request)
        except RangeInvalid as exc:
            return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
        chosen = next((f for f in figures if f.key == figure), None)
        if chosen is None:
            raise Http404
        response = HttpResponse(figure_csv(chosen), content_type="text/csv; charset=utf-8")
        name = f"{figure}_{query.start}_{query.end}{'_' + query.channel if query.channel else ''}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    def campaign_report_view(self, request, campaign_id: uuid.UUID):
        if not self.has_view_permission(request):
            raise PermissionDenied
        campaign = campaign_get(campaign_id=campaign_id)
        if campaign is None:
            raise Http404
        report = campaign_report(campaign=campaign)
        for row in report["channels"]:
            row["label"] = channel_label(row["channel"])  # the table says the channel's name; data-channel its code
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign_opts": campaign._meta,
            "campaign": campaign,
            "report": report,
            "title": _("Report: %(name)s") % {"name": campaign.name},
            "funnel_chart": charts.campaign_funnel(report["channels"]),
            "lift_chart": charts.campaign_lift(report["lift"]),
            "roi_chart": charts.campaign_roi(report["channels"]),
        }
        return TemplateResponse(request, "admin/insights/campaign_report.html", context)
