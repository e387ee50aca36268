"""GET /metrics (Prometheus, bearer token of an integration or admin) and GET /health/ready/ (readiness)."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST
from rest_framework import exceptions

from backoffice.accounts.roles import Role
from backoffice.accounts.selectors import user_role
from backoffice.api.authentication import TokenAuthentication, TokenExpired
from backoffice.api.health import broker_ok, database_ok
from backoffice.api.problems import CONTENT_TYPE, problem_body
from backoffice.eventstore.partitioning import partition_months_ahead

from . import metrics

METRICS_ROLES = frozenset({Role.ADMIN, Role.INTEGRATION})


def _problem(status: int, problem_type: str, title: str, detail: str, **headers: str) -> JsonResponse:
    response = JsonResponse(problem_body(status, problem_type, title, detail), status=status, content_type=CONTENT_TYPE)
    for name, value in headers.items():
        response[name] = value
    return response


def _bearer_key(request) -> str | None:
    """The token of `Authorization: Bearer <token>` (what Prometheus' `authorization` setting sends); `Token <token>`
    as the rest of the API takes it is accepted too."""
    scheme, _, key = request.headers.get("Authorization", "").partition(" ")
    key = key.strip()
    if scheme.lower() in ("bearer", "token") and key and " " not in key:
        return key
    return None


@require_GET
def prometheus_metrics(request):
    key = _bearer_key(request)
    if key is None:
        return _problem(
            401,
            "not_authenticated",
            "Authentication is required",
            "send Authorization: Bearer <token> of an integration or admin API token",
            **{"WWW-Authenticate": 'Bearer realm="metrics"'},
        )
    try:
        user, _token = TokenAuthentication().authenticate_credentials(key)
    except TokenExpired as exc:
        return _problem(
            401,
            "token_expired",
            "The token has expired",
            str(exc.detail),
            **{"WWW-Authenticate": 'Bearer realm="metrics", error="invalid_token"'},
        )
    except exceptions.AuthenticationFailed:
        return _problem(
            401,
            "authentication_failed",
            "Authentication failed",
            "invalid token",
            **{"WWW-Authenticate": 'Bearer realm="metrics", error="invalid_token"'},
        )
    if user_role(user=user) not in METRICS_ROLES:
        return _problem(403, "permission_denied", "You may not do this", "metrics need an integration or admin token")
    return HttpResponse(metrics.render(), content_type=CONTENT_TYPE_LATEST)


@require_GET
def readiness(request):
    """Ready to take traffic: the database answers (and, partitioned, its log has this month's partition) and, when
    one is configured, the broker. Says which is down.

    No authentication (orchestrators call it), so it names dependencies and their state, nothing else."""
    from django.conf import settings

    checks = {"database": "ok" if database_ok() else "down"}
    if checks["database"] == "ok" and partition_months_ahead() == 0:
        # The log has no partition for this month: every append would be refused (beat creates them ahead).
        checks["event_log_partition"] = "missing"
    if settings.CELERY_BROKER_URL:
        checks["broker"] = "ok" if broker_ok() else "down"
    down = sorted(name for name, state in checks.items() if state != "ok")
    if not down:
        return JsonResponse({"status": "ready", "checks": checks})
    body = problem_body(503, "not_ready", "Not ready", f"down: {', '.join(down)}") | {"checks": checks, "down": down}
    response = JsonResponse(body, status=503, content_type=CONTENT_TYPE)
    response["Retry-After"] = "5"
    return response
