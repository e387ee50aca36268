"""factory-boy factories, exposed as fixtures by conftest.py."""

import uuid

import factory
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from backoffice.accounts.models import Role, StaffProfile
from backoffice.accounts.services import api_token_issue, staff_user_save


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"staff{n}")
    is_staff = True
    password = factory.django.Password("correct horse battery staple")


class StaffProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = StaffProfile

    user = factory.SubFactory(UserFactory)
    role = Role.SUPPORT
    location_code = factory.Maybe(factory.LazyAttribute(lambda o: o.role == Role.STORE), "MAD-01", "")


def interaction(**overrides) -> dict:
    """An ingestible interaction as another system would send it."""
    item = {
        "id": str(uuid.uuid4()),
        "type": "cart.item_added",
        "channel": "web",
        "occurred_at": "2026-11-20T10:00:00+01:00",
        "customer": {"email": "ana@example.es", "phone": "+34600111222", "anonymous_id": "web-7f3a"},
        "data": {"cart_id": "c-881", "sku": "TSHIRT-RED-M", "quantity": 1, "unit_price": "19.90"},
    }
    item.update(overrides)
    return item


@pytest.fixture
def staff_user(db):
    """A user made the way the product makes them (staff_user_save), so roles carry their real flags."""
    counter = iter(range(1_000_000))

    def make(role: str = Role.SUPPORT, location_code: str | None = None):
        location = location_code if location_code is not None else ("MAD-01" if role == Role.STORE else "")
        return staff_user_save(username=f"{role}-{next(counter)}", role=role, location_code=location)

    return make


@pytest.fixture
def api_client_for(staff_user):
    """An API client authenticated by token as a fresh user with the given role (None: a user with no role)."""

    def make(role: str | None = Role.INTEGRATION) -> APIClient:
        user = staff_user(role) if role else UserFactory()
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_issue(user=user)}")
        client.user = user
        return client

    return make


@pytest.fixture
def login(client, staff_user):
    """login(role, location_code=None): the test client in a browser session of a fresh staff user with that role."""

    def make(role: str, location_code: str | None = None):
        client.force_login(staff_user(role, location_code))
        return client

    return make


# --- Domain objects. Every one is made through its service, so the log holds its events and the read models are
# what the projections made of them: a factory that wrote rows directly would test a state the product never has.


class CustomerFactory(factory.Factory):
    """A registered customer (customers.services.ingestion.customer_register); returns the Customer row."""

    class Meta:
        model = dict

    email = factory.Sequence(lambda n: f"cliente{n}@example.es")
    phone = None
    name = ""
    channel = "web"

    @classmethod
    def _create(cls, model_class, *, email, phone, name, channel):
        from customers.models import Customer
        from customers.services.ingestion import customer_register

        identifiers = {key: value for key, value in (("email", email), ("phone", phone), ("name", name)) if value}
        customer_id, _ = customer_register(customer=identifiers, channel=channel, actor="test")
        return Customer.objects.get(id=customer_id)


class _SavedByOrdersService(factory.Factory):
    """Made by the orders service named `_service`, which answers (row, created); returns the row."""

    _service = ""

    class Meta:
        model = dict
        abstract = True

    @classmethod
    def _create(cls, model_class, **values):
        from orders import services

        row, _ = getattr(services, cls._service)(**values, actor="test")
        return row


class ProductFactory(_SavedByOrdersService):
    _service = "product_save"

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Producto {o.sku}")
    category = "camisetas"
    price = factory.LazyFunction(lambda: __import__("decimal").Decimal("19.90"))


class LocationFactory(_SavedByOrdersService):
    _service = "location_create"

    code = factory.Sequence(lambda n: f"LOC-{n:05d}")
    name = factory.LazyAttribute(lambda o: f"Tienda {o.code}")
    kind = "store"
    city = "Madrid"


class SegmentFactory(factory.Factory):
    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Segmento {n}")
    rules = factory.LazyFunction(lambda: {"op": "and", "rules": [{"field": "consent", "cmp": "eq", "value": "email"}]})

    @classmethod
    def _create(cls, model_class, **values):
        from campaigns import services

        return services.segment_save(**values, actor="test")


class CampaignFactory(factory.Factory):
    """A draft campaign with a name (fill the worksheet with `values={...}`)."""

    class Meta:
        model = dict

    name = factory.Sequence(lambda n: f"Campaña {n}")
    values = factory.LazyFunction(dict)

    @classmethod
    def _create(cls, model_class, *, name, values):
        from campaigns import services

        return services.campaign_save(campaign=None, values={"name": name, **values}, actor="test")


class CaseFactory(factory.Factory):
    class Meta:
        model = dict

    customer_id = factory.LazyFunction(lambda: CustomerFactory().id)
    channel = "email"
    subject = factory.Sequence(lambda n: f"Consulta {n}")
    occurred_at = None

    @classmethod
    def _create(cls, model_class, **values):
        from customers.services import cases

        return cases.case_open(**values, actor="test")


class ConsentFactory(factory.Factory):
    """A consent recorded through customers.services.consent_record (marketing by email, granted on the web, unless
    told otherwise); returns the recorded event."""

    class Meta:
        model = dict

    customer_id = factory.LazyFunction(lambda: CustomerFactory().id)
    channel = "email"
    purpose = "marketing"
    is_granted = True
    source_channel = "web"
    wording = ""
    actor = "test"

    @classmethod
    def _create(cls, model_class, **values):
        from customers import services

        return services.consent_record(**values)


class OrderFactory(factory.Factory):
    """An order placed through orders.services.order_place: one CAM-ALG-BLA-M picked up at MAD-01, ordered on the web,
    unless told otherwise (the stock must have been received); returns the Order."""

    class Meta:
        model = dict

    customer = factory.LazyFunction(lambda: str(CustomerFactory().id))
    channel = "web"
    lines = factory.LazyFunction(lambda: [{"sku": "CAM-ALG-BLA-M", "quantity": 1}])
    fulfilment = factory.LazyFunction(lambda: {"method": "pickup", "location": "MAD-01"})
    actor = "test"

    @classmethod
    def _create(cls, model_class, **values):
        from orders import services

        order, _ = services.order_place(**values)
        return order
