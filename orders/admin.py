"""Orders and stock in the admin: catalog and locations (written through the services), stock levels read-only with
movements recorded through `stock_move`, orders read-only with their event history. Nothing here writes a
projection directly; every change is an event appended by the same service the API uses."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.actors import request_actor
from backoffice.accounts.admin_lists import customer_admin_short_link, labelled_column, labelled_filter
from backoffice.accounts.admin_read_only import ReadOnlyAdmin
from backoffice.accounts.admin_roles import RoleGatedAdmin
from backoffice.accounts.admin_tables import code_html, local_minute, table_html
from backoffice.accounts.roles import Role
from backoffice.accounts.selectors import user_location_code, user_role
from customers.admin_links import customer_admin_link
from customers.wording import CHANNEL_LABELS, FULFILMENT_LABELS

from . import selectors, services
from .errors import InsufficientStock, InvalidFields, NotYourLocation, OrdersError
from .models import Cart, Location, Order, Product, StockLevel

CATALOG_EDITORS = (Role.ADMIN,)
STOCK_READERS = (Role.ADMIN, Role.SUPPORT, Role.STORE, Role.MARKETING)
STOCK_MOVERS = (Role.ADMIN, Role.STORE)
# Orders concern individuals: those who serve them see them, marketing does not.
ORDER_READERS = (Role.ADMIN, Role.SUPPORT, Role.STORE)


@admin.register(Product)
class ProductAdmin(RoleGatedAdmin, admin.ModelAdmin):
    roles = STOCK_READERS
    list_display = ("sku", "name", "category", "price", "is_active")
    list_filter = ("category", "is_active")
    search_fields = ("sku", "name")
    fields = ("sku", "name", "category", "price", "is_active")

    def has_add_permission(self, request):
        return user_role(user=request.user) in CATALOG_EDITORS

    def has_change_permission(self, request, obj=None):
        return user_role(user=request.user) in CATALOG_EDITORS

    def has_delete_permission(self, request, obj=None):
        return False  # withdrawn products are made inactive: orders and stock keep naming them

    def get_readonly_fields(self, request, obj=None):
        return ("sku",) if obj else ()

    def save_model(self, request, obj, form, change):
        # The form only collects values; the service appends product.created or product.updated.
        try:
            services.product_save(
                sku=obj.sku,
                name=obj.name,
                category=obj.category,
                price=obj.price,
                is_active=obj.is_active,
                actor=request_actor(request),
            )
        except OrdersError as exc:
            raise PermissionDenied(str(exc)) from exc


class LocationForm(forms.ModelForm):
    class Meta:
        model = Location
        fields = ("code", "name", "kind", "city", "timezone")

    def clean_timezone(self):
        from zoneinfo import available_timezones

        value = self.cleaned_data["timezone"]
        if value not in available_timezones():
            raise forms.ValidationError(_("Unknown time zone."))
        return value


@admin.register(Location)
class LocationAdmin(RoleGatedAdmin, admin.ModelAdmin):
    roles = STOCK_READERS
    form = LocationForm
    list_display = ("code", "name", "kind", "city", "timezone")
    list_filter = ("kind", "city")
    search_fields = ("code", "name", "city")
    fields = ("code", "name", "kind", "city", "timezone")

    def has_add_permission(self, request):
        return user_role(user=request.user) in CATALOG_EDITORS

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    def save_model(self, request, obj, form, change):
        actor = request_actor(request)
        services.location_create(
            code=obj.code, name=obj.name, kind=obj.kind, city=obj.city, timezone=obj.timezone, actor=actor
        )


class StockMovementForm(forms.Form):
    sku = forms.CharField(label=_("SKU"), max_length=64)
    location = forms.ChoiceField(label=_("location"))
    kind = forms.ChoiceField(
        label=_("movement"),
        choices=[
            ("received", _("goods received")),
            ("counted", _("physical count")),
            ("sold", _("till sale")),
            ("transfer", _("transfer")),
        ],
    )
    quantity = forms.IntegerField(label=_("quantity"), help_text=_("For a count: the number of units counted."))
    to_location = forms.ChoiceField(label=_("to location"), required=False, help_text=_("Transfers only."))

    def __init__(self, *args, locations, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(loc.code, f"{loc.code} {loc.name}") for loc in locations]
        self.fields["location"].choices = choices
        self.fields["to_location"].choices = [("", "-"), *choices]


@admin.register(StockLevel)
class StockLevelAdmin(RoleGatedAdmin, ReadOnlyAdmin):
    roles = STOCK_READERS
    list_display = ("sku", "location_code", "on_hand", "reserved", "available_units", "version", "updated_at")
    list_filter = ("location_code",)
    search_fields = ("sku",)
    ordering = ("sku", "location_code")
    change_list_template = "admin/orders/stocklevel/change_list.html"

    @admin.display(description=_("available"))
    def available_units(self, level):
        return level.available

    def get_urls(self):
        movement = self.admin_site.admin_view(self.movement_view)
        return [path("movement/", movement, name="orders_stocklevel_movement"), *super().get_urls()]

    def movement_view(self, request):
        role = user_role(user=request.user)
        if role not in STOCK_MOVERS:
            raise PermissionDenied
        acting = user_location_code(user=request.user) if role == Role.STORE else None
        locations = [loc for loc in selectors.location_list() if acting is None or loc.code == acting]
        all_locations = selectors.location_list()
        form = StockMovementForm(request.POST or None, locations=locations)
        form.fields["to_location"].choices = [("", "-"), *((loc.code, loc.code) for loc in all_locations)]
        if request.method == "POST" and form.is_valid():
            values = form.cleaned_data
            try:
                services.stock_move(
                    sku=values["sku"],
                    location=values["location"],
                    kind=values["kind"],
                    quantity=values["quantity"],
                    to_location=values["to_location"] or None,
                    actor=request_actor(request),
                    acting_location=acting,
                )
            except InvalidFields as exc:
                for error in exc.errors:
                    form.add_error(error.field if error.field in form.fields else None, error.message)
            except (InsufficientStock, NotYourLocation) as exc:
                form.add_error(None, str(exc))
            else:
                self.message_user(request, _("Stock movement recorded."), messages.SUCCESS)
                return redirect(reverse("admin:orders_stocklevel_changelist") + f"?q={values['sku']}")
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "form": form,
            "title": _("Record a stock movement"),
        }
        return TemplateResponse(request, "admin/orders/stocklevel/movement.html", context)


@admin.register(Order)
class OrderAdmin(RoleGatedAdmin, ReadOnlyAdmin):
    roles = ORDER_READERS
    list_display = (
        "id",
        "customer",
        "channel_label",
        "status",
        "fulfilment",
        "fulfilment_location",
        "total",
        "placed_at",
    )
    list_filter = (
        "status",
        labelled_filter("channel", _("channel"), CHANNEL_LABELS),
        labelled_filter("fulfilment_method", _("fulfilment"), FULFILMENT_LABELS),
        "fulfilment_location",
    )
    search_fields = ("id", "customer_id")
    ordering = ("-placed_at",)
    channel_label = labelled_column("channel", _("channel"), CHANNEL_LABELS)
    fulfilment = labelled_column("fulfilment_method", _("fulfilment"), FULFILMENT_LABELS)
    show_full_result_count = False
    fields = (
        "id",
        "customer_link",
        "channel",
        "status",
        "fulfilment_method",
        "fulfilment_location",
        "total",
        "refunded",
        "currency",
        "is_paid",
        "placed_at",
        "updated_at",
        "attributed_message_id",
        "line_table",
        "history",
    )
    readonly_fields = fields

    @admin.display(description=_("customer"))
    def customer_link(self, order):
        return customer_admin_link(order.customer_id)

    @admin.display(description=_("customer"))
    def customer(self, order):
        return customer_admin_short_link(order.customer_id)

    @admin.display(description=_("lines"))
    def line_table(self, order):
        return table_html(
            (
                (line.sku, line.quantity, line.unit_price, line.location_code, line.returned_quantity)
                for line in order.lines.all()
            ),
            header=(_("SKU"), _("quantity"), _("unit price"), _("location"), _("returned")),
        )

    @admin.display(description=_("history"))
    def history(self, order):
        return table_html(
            (local_minute(e.occurred_at), e.type, e.channel or "", e.metadata.get("actor", ""), code_html(e.data))
            for e in selectors.order_history(order_id=order.id)
        )


@admin.register(Cart)
class CartAdmin(RoleGatedAdmin, ReadOnlyAdmin):
    roles = ORDER_READERS
    list_display = (
        "cart_id",
        "customer",
        "channel_label",
        "status",
        "last_activity_at",
        "abandoned_at",
        "reminder",
    )
    list_filter = ("status", labelled_filter("channel", _("channel"), CHANNEL_LABELS))
    search_fields = ("cart_id", "customer_id")
    ordering = ("-last_activity_at",)
    channel_label = labelled_column("channel", _("channel"), CHANNEL_LABELS)
    reminder = labelled_column("reminder_channel", _("reminder channel"), CHANNEL_LABELS)
    show_full_result_count = False

    @admin.display(description=_("customer"))
    def customer(self, cart):
        return customer_admin_short_link(cart.customer_id)
