"""The query parameters of the customers app's lists, declared once (django-filter): a bad value is a 400 naming
it. The selectors still own the reads: a filter set validates the parameters and hands them to its selector."""

import django_filters
from rest_framework.exceptions import ValidationError

from backoffice.api.filters import AwareDateTimeFilter, StrictBooleanFilter
from backoffice.eventstore.schema import CHANNELS

from .. import selectors
from ..models import Case, Customer

CHANNEL_CHOICES = [(channel, channel) for channel in CHANNELS]


class CaseFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=Case.Status.choices)
    channel = django_filters.ChoiceFilter(choices=CHANNEL_CHOICES, help_text="where the case was opened")
    breached = StrictBooleanFilter(help_text="SLA breached (first response or resolution)")
    customer = django_filters.UUIDFilter(help_text="a customer id; a merged one stands for the whole person")

    class Meta:
        model = Case
        fields = ("status", "channel", "breached", "customer")

    def filter_queryset(self, queryset):
        values = self.form.cleaned_data
        customer_id = None
        if values.get("customer"):
            try:
                customer_id = selectors.customer_resolve_id(customer_id=values["customer"])
            except selectors.CustomerNotFound:
                raise ValidationError({"customer": ["no such customer"]}, code="not_found") from None
        breached = values.get("breached")
        return selectors.case_list(
            status=values.get("status") or None,
            channel=values.get("channel") or None,
            is_breached=StrictBooleanFilter.as_bool(breached) if breached else None,
            customer_id=customer_id,
        )


class CustomerFilter(django_filters.FilterSet):
    acquisition_channel = django_filters.ChoiceFilter(choices=CHANNEL_CHOICES)
    registered_after = AwareDateTimeFilter(field_name="registered_at", lookup_expr="gte")
    registered_before = AwareDateTimeFilter(field_name="registered_at", lookup_expr="lt")

    class Meta:
        model = Customer
        fields = ("acquisition_channel", "registered_after", "registered_before")
