"""The query parameters of the catalog lists, declared once (django-filter): a bad value is a 400 naming it."""

import django_filters

from backoffice.api.filters import StrictBooleanFilter

from ..models import Location, LocationKind, Product


class ProductFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(help_text="exact category")
    # The keyset spelling of the first version (`?after=<last sku>`): still honoured next to the cursor.
    after = django_filters.CharFilter(field_name="sku", lookup_expr="gt", help_text="the last sku of the previous page")
    # The model's field is `is_active`: the parameter keeps the name the API uses everywhere (`active`).
    active = StrictBooleanFilter(field_name="is_active")

    class Meta:
        model = Product
        fields = ("category", "after", "active")


class LocationFilter(django_filters.FilterSet):
    kind = django_filters.ChoiceFilter(choices=LocationKind.choices)

    class Meta:
        model = Location
        fields = ("kind",)
