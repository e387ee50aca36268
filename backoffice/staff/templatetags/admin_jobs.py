"""The admin's navigation grouped by the job staff come to do (customers and cases, orders and stock, campaigns and
journeys, metrics, connections, settings) instead of by Django app. Only the grouping changes: each model keeps
the links and permissions Django's app list gives it, so a person sees exactly what they saw before."""

from django import template
from django.utils.translation import gettext_lazy as _

register = template.Library()

JOBS = (
    ("people", _("Customers and cases")),
    ("orders", _("Orders and stock")),
    ("campaigns", _("Campaigns and journeys")),
    ("metrics", _("Metrics")),
    ("connections", _("Connections")),
    ("settings", _("Settings")),
)
# app_label, or app_label.model_name where a model serves another job than its app.
JOB_OF = {
    "customers": "people",
    "orders": "orders",
    "integrations.oversellalert": "orders",
    "campaigns": "campaigns",
    "journeys": "campaigns",
    "insights": "metrics",
    "integrations": "connections",
    "messaging": "connections",
    "authtoken": "connections",
}


def job_of(app_label: str, object_name: str) -> str:
    return JOB_OF.get(f"{app_label}.{object_name.lower()}") or JOB_OF.get(app_label) or "settings"


@register.simple_tag
def admin_jobs(app_list) -> list[dict]:
    """Django's app list regrouped: [{"key", "name", "models": [model dicts with "app_label" and "app_name"
    added]}], in the order of JOBS, models by app then as Django lists them, empty jobs left out. `has_many_apps`
    says whether the job names each app above its models (Settings holds several)."""
    grouped: dict[str, list] = {key: [] for key, _label in JOBS}
    for app in app_list or []:
        for model in app["models"]:
            grouped[job_of(app["app_label"], model["object_name"])].append(
                {**model, "app_label": app["app_label"], "app_name": app["name"]}
            )
    return [
        {
            "key": key,
            "name": label,
            # The job's own app first (orders before the oversell alerts integrations raise about them).
            "models": sorted(grouped[key], key=lambda m, job=key: JOB_OF.get(m["app_label"]) != job),
            "has_many_apps": len({m["app_label"] for m in grouped[key]}) > 1,
        }
        for key, label in JOBS
        if grouped[key]
    ]
