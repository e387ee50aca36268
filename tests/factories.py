"""factory-boy factories, exposed as fixtures by conftest.py."""

import uuid

import factory
import pytest
from django.contrib.auth import get_user_model
from rest_framework.test import APIClient

from backoffice.accounts.models import Role, StaffProfile
from backoffice.accounts.services import api_token_get_or_create, staff_user_save


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
        client.credentials(HTTP_AUTHORIZATION=f"Token {api_token_get_or_create(user=user)}")
        client.user = user
        return client

    return make
