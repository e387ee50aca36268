"""Journeys in the admin, under campaigns: the editor (plan, why and KPI, the definition as JSON with the steps drawn
as a tree with their branches and the number of people at and through each step), the checks naming each broken
step before publishing, publish and pause through the services, the simulator (a chosen customer walked through the
journey: what they would get and when) and the report per step and branch. Marketing and admin own them."""

import json
import uuid

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.text import capfirst
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from backoffice.accounts.actors import request_actor
from backoffice.api.parsers import loads_bounded
from customers.selectors import customer_exists, customer_id_by_identifier
from customers.vocabulary import IdentifierKind

from .. import services
from ..admin_saves import FormErrors, RefusedSaveShownAdmin, SaveRefused
from . import selectors
from .models import Journey, JourneyStatus
from .templates import TEMPLATES

KIND_LABELS = {
    "wait": _("wait"),
    "wait_event": _("wait for an event"),
    "branch": _("branch"),
    "split": _("A/B split"),
    "send": _("send"),
    "task": _("staff task"),
    "tag": _("add a tag"),
    "end": _("end"),
}


class JourneyForm(forms.ModelForm):
    template = forms.ChoiceField(
        label=capfirst(_("start from a template")),
        required=False,
        choices=[("", "---------"), *[(key, value["name"]) for key, value in TEMPLATES.items()]],
        help_text=_("Fills the definition of a new journey; leave it empty to write your own."),
    )
    definition = forms.CharField(
        label=capfirst(_("definition")),
        required=False,
        widget=forms.Textarea(attrs={"rows": 24, "cols": 100, "class": "vLargeTextField journey-definition"}),
        help_text=_("Trigger, goal, re-entry, cap and steps (see docs/journeys.md). Checked before publishing."),
    )

    class Meta:
        model = Journey
        fields = ("name", "objective", "kpi", "holdout_share", "attribution_days", "definition")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        value = self.initial.get("definition")
        self.initial["definition"] = json.dumps(value or {}, ensure_ascii=False, indent=2)
        self.fields["name"].required = False

    def clean_definition(self):
        raw = self.cleaned_data.get("definition") or "{}"
        try:
            # Bounded, as the segment editor reads its rules: a pasted definition nested thousands deep would raise
            # RecursionError in json.loads (a 500), and NaN or Infinity are not JSON.
            value = loads_bounded(raw)
        except ValueError as exc:
            raise forms.ValidationError(_("Not valid JSON: %(error)s") % {"error": exc}) from None
        if not isinstance(value, dict):
            raise forms.ValidationError(_("The definition is an object."))
        try:
            json.dumps(value, allow_nan=False)  # 1e400 reads as infinity, which no JSON column stores
        except ValueError:
            raise forms.ValidationError(_("A number in the definition is too large.")) from None
        return value

    def clean(self):
        cleaned = super().clean()
        if not cleaned.get("name") and not cleaned.get("template"):
            self.add_error("name", _("A journey has a name."))
        return cleaned


class JourneyAdmin(RefusedSaveShownAdmin):
    form = JourneyForm
    list_display = ("name", "status", "version", "people_in_journey", "updated_at")
    list_filter = ("status",)
    search_fields = ("name",)
    readonly_fields = ("status", "version")
    fieldsets = (
        (None, {"fields": ("template", "name", "status", "version")}),
        (pgettext_lazy("QQOQCP", "Why"), {"fields": ("objective", "kpi", "holdout_share", "attribution_days")}),
        (_("Steps"), {"fields": ("definition",)}),
    )
    change_form_template = "admin/campaigns/journey/change_form.html"

    @admin.display(description=_("people in the journey"))
    def people_in_journey(self, journey):
        return sum(selectors.journey_people_at_steps(journey_id=journey.pk).values())

    def save_model(self, request, obj, form, change):
        values = {name: form.cleaned_data[name] for name in form.Meta.fields if name in form.cleaned_data}
        template = form.cleaned_data.get("template") or ""
        if template and not change:
            chosen = TEMPLATES[template]
            values = {**{k: v for k, v in chosen.items()}, **{k: v for k, v in values.items() if v not in ("", {})}}
        try:
            saved = services.journey_save(
                journey_id=obj.pk if change else None, values=values, actor=request_actor(request), template=template
            )
        except services.JourneyRefused as exc:
            raise SaveRefused(_refusal_errors(exc, form.fields)) from None
        obj.pk = saved.pk
        obj._state.adding = False

    def get_urls(self):
        view = self.admin_site.admin_view
        extra = [
            path("<uuid:journey_id>/do/<str:command>/", view(self.command_view), name="campaigns_journey_command"),
        ]
        return extra + super().get_urls()

    def command_view(self, request, journey_id: uuid.UUID, command: str):
        if not self.has_role(request) or request.method != "POST":
            raise PermissionDenied
        get_object_or_404(Journey, pk=journey_id)
        change_url = reverse("admin:campaigns_journey_change", args=[journey_id])
        if command == "simulate":
            found = _customer_for(request.POST.get("customer", ""))
            if found is None:
                messages.error(request, _("No customer with that id, email or phone."))
                return redirect(change_url)
            return redirect(f"{change_url}?simulate={found}")
        commands = {
            "publish": (services.journey_publish, _("Published: people now enter this version.")),
            "pause": (services.journey_pause, _("Paused: no new entries, steps held.")),
        }
        if command not in commands:
            raise PermissionDenied
        command_fn, done = commands[command]
        try:
            command_fn(journey_id=journey_id, actor=request_actor(request))
        except services.JourneyRefused as exc:
            messages.error(request, exc.message)
            for error in exc.errors:
                messages.error(request, f"{error['field']}: {error['message']}")
        else:
            messages.success(request, done)
        return redirect(change_url)

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["commands"] = [
                (name, label, reverse("admin:campaigns_journey_command", args=[obj.pk, name]))
                for name, label, allowed in (
                    ("publish", _("Publish"), True),
                    ("pause", _("Pause"), obj.status == JourneyStatus.LIVE),
                )
                if allowed
            ]
            context["simulate_url"] = reverse("admin:campaigns_journey_command", args=[obj.pk, "simulate"])
            context["problems"] = services.journey_problems(obj)
            report = selectors.journey_report(journey=obj)
            context["report"] = report
            context["tree"] = _tree(obj.definition, report)
            context["branches"] = _branches(report)
            chosen = request.GET.get("simulate", "")
            if chosen:
                try:
                    context["simulation"] = services.journey_simulate(journey_id=obj.pk, customer_id=uuid.UUID(chosen))
                except (ValueError, services.JourneyRefused) as exc:
                    messages.error(request, str(exc))
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)


def _refusal_errors(exc, fields) -> FormErrors:
    """A refusal of journey_save on the form (nothing written, campaigns.admin_saves): each reason on the field the
    form shows; the event as a whole (too large for the log) is the definition's, the field that makes it large."""
    errors: FormErrors = [(None, str(_("The journey cannot be saved as it is.")))]
    for error in exc.errors:
        field = error["field"].split(".")[0]
        if error["code"] == "too_large":
            limit = settings.EVENTSTORE_MAX_EVENT_BYTES // 1024
            message = _("too long: a journey holds at most %(limit)s KB in all") % {"limit": limit}
            errors.append(("definition", str(message)))
        elif field in fields:
            errors.append((field, error["message"]))
        else:
            errors.append((None, f"{error['field']}: {error['message']}"))
    return errors


def _customer_for(text: str) -> uuid.UUID | None:
    """A customer by id, email or phone (what staff have at hand)."""
    text = text.strip()
    try:
        customer_id = uuid.UUID(text)
    except ValueError:
        kind = IdentifierKind.EMAIL if "@" in text else IdentifierKind.PHONE
        return customer_id_by_identifier(kind=kind, value=text)
    return customer_id if customer_exists(customer_id=customer_id) else None


def _tree(definition: dict, report: dict) -> list[dict]:
    """The steps as a tree from the first one, depth-first, each with its branches labelled and its counts; a step
    reached again (a loop back through a wait) is shown as a link, not drawn twice."""
    steps = {s.get("id"): s for s in definition.get("steps", []) if isinstance(s, dict)}
    counts = {s["id"]: s for s in report.get("steps", [])}
    start = definition.get("start") or next(iter(steps), None)
    rows: list[dict] = []
    seen: set[str] = set()

    def visit(step_id: str | None, depth: int, label: str) -> None:
        if not step_id:
            return
        step = steps.get(step_id)
        row = {"id": step_id, "depth": depth, "indent": depth * 24, "label": label, "is_link": step_id in seen}
        if step is None:
            rows.append({**row, "kind": "?", "summary": _("missing step")})
            return
        row.update(
            kind=KIND_LABELS.get(step.get("kind"), step.get("kind")),
            summary=_summary(step),
            at=counts.get(step_id, {}).get("at", 0),
            through=counts.get(step_id, {}).get("through", 0),
            outcomes=counts.get(step_id, {}).get("outcomes", {}),
            converted=counts.get(step_id, {}).get("converted", 0),
            revenue=counts.get(step_id, {}).get("revenue", "0.00"),
        )
        rows.append(row)
        if step_id in seen:
            return
        seen.add(step_id)
        kind = step.get("kind")
        if kind == "branch":
            visit(step.get("yes"), depth + 1, str(_("yes")))
            visit(step.get("no"), depth + 1, str(_("no")))
        elif kind == "split":
            for path_ in step.get("paths", []):
                visit(path_.get("next"), depth + 1, f"{path_.get('name', '')} {path_.get('share', '')}%")
        elif kind == "wait_event":
            visit(step.get("next"), depth + 1, str(_("on the event")))
            visit(step.get("timeout_next"), depth + 1, str(_("on timeout")))
        else:
            visit(step.get("next"), depth, "")

    visit(start, 0, "")
    return rows


def _branches(report: dict) -> list[dict]:
    """The report's paths out of branches, splits and waits for an event, one row each, for the report's table."""
    labels = {"yes": _("yes"), "no": _("no"), "event": _("on the event"), "timeout": _("on timeout")}
    return [
        {**branch, "step": step["id"], "label": labels.get(branch["outcome"], branch["outcome"].removeprefix("path:"))}
        for step in report.get("steps", [])
        for branch in step.get("branches", [])
    ]


def _summary(step: dict) -> str:
    kind = step.get("kind")
    if kind == "wait":
        until = step.get("until")
        return str(until.get("time")) if isinstance(until, dict) else f"{step.get('minutes')} min"
    if kind == "wait_event":
        return f"{step.get('event')} ({step.get('timeout_minutes')} min)"
    if kind == "send":
        fallback = (step.get("fallback") or {}).get("channel")
        return f"{step.get('channel')}" + (f" → {fallback}" if fallback else "")
    if kind == "task":
        return f"{step.get('queue')}: {step.get('title')}"
    if kind == "tag":
        return str(step.get("tag"))
    return ""


admin.site.register(Journey, JourneyAdmin)
