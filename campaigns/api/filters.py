"""The query parameters of the campaigns lists, declared once (django-filter): a bad value is a 400 naming it."""

import django_filters

from ..models import Campaign, Segment, Status


class SegmentFilter(django_filters.FilterSet):
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="part of the name")

    class Meta:
        model = Segment
        fields = ("name",)


class CampaignFilter(django_filters.FilterSet):
    status = django_filters.MultipleChoiceFilter(choices=Status.choices, help_text="one or more statuses")
    name = django_filters.CharFilter(lookup_expr="icontains", help_text="part of the name")

    class Meta:
        model = Campaign
        fields = ("status", "name")
