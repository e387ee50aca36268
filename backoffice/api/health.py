"""GET /health/: is the database reachable, and the broker when one is configured. GET /health/live/: is this
process answering at all (liveness: no dependency is asked, so an orchestrator does not restart healthy web
processes while the database or Redis is down; /health/ready/ takes them out of rotation instead).

Load balancers and orchestrators call it without credentials, so it says nothing but "ok" or which dependency
is down: no versions, no hosts, no data.
"""

from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.http import require_GET


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone()[0] == 1
    except Exception:  # noqa: BLE001 - any failure means "down", and the answer says so
        return False


def broker_ok() -> bool:
    from backoffice.celery import app

    try:
        with app.connection_for_write(url=settings.CELERY_BROKER_URL) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001
        return False


@require_GET
def liveness(request):
    return JsonResponse({"status": "alive"})


@require_GET
def health(request):
    checks = {"database": "ok" if database_ok() else "down"}
    if settings.CELERY_BROKER_URL:
        checks["broker"] = "ok" if broker_ok() else "down"
    healthy = all(value == "ok" for value in checks.values())
    return JsonResponse({"status": "ok" if healthy else "down", "checks": checks}, status=200 if healthy else 503)
