"""What every orders endpoint shares: roles, the base views and who acts where."""

from rest_framework.views import APIView

from backoffice.accounts.roles import Role
from backoffice.accounts.selectors import user_location_code, user_role
from backoffice.api.permissions import HasRole

ALL_STAFF = (Role.ADMIN, Role.MARKETING, Role.SUPPORT, Role.STORE, Role.INTEGRATION)
# Orders concern individuals: marketing works with segments, not people's orders.
ORDER_ROLES = (Role.ADMIN, Role.SUPPORT, Role.STORE, Role.INTEGRATION)
CATALOG_WRITERS = (Role.ADMIN, Role.INTEGRATION)
STOCK_WRITERS = (Role.ADMIN, Role.STORE, Role.INTEGRATION)


class OrdersApiView(APIView):
    """Refusals of the services (OrdersError) are rendered by the problem registry (orders/api/problems.py)."""

    permission_classes = [HasRole]


def acting_location(user) -> str | None:
    """Store staff are bound to one location; other roles act anywhere."""
    return user_location_code(user=user) if user_role(user=user) == Role.STORE else None
