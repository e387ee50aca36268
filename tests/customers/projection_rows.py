"""The customers app's read models as plain rows, to compare what projections made live with what a rebuild from the
log makes."""

from customers.models import ChannelActivityDaily, Customer, CustomerIdentifier


def customer_projection_rows(*more_customer_fields: str) -> dict[str, list]:
    """Customers (with `more_customer_fields`), their identifiers and the daily channel activity, sorted."""
    customer_fields = (
        "id",
        "registered_at",
        "acquisition_channel",
        "display_name",
        "search_name",
        *more_customer_fields,
    )
    activity_fields = ("last_interaction_at", "interaction_count", "channels_used")
    return {
        "customers": sorted(Customer.objects.values_list(*customer_fields, *activity_fields)),
        "identifiers": sorted(
            CustomerIdentifier.objects.values_list("key", "customer_id", "kind", "value", "added_at")
        ),
        "daily": sorted(ChannelActivityDaily.objects.values_list("day", "channel", "type", "count")),
    }
