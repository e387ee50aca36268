"""Campaigns in the admin: segments with a rule editor (no JSON to write) and a live count; the QQOQCP worksheet
(six sections, progress marker, checks, variant previews for a sample customer); approve, launch and cancel through
the services; a link to the report. Marketing and admin own them; nobody here sees individual people.

The report page itself is served by backoffice.insights (the one owner of what a campaign earned, a layer above this
one): linked here by its URL name only, so nothing here imports insights."""

import json
import uuid
from decimal import Decimal, InvalidOperation

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db import models
from django.http import JsonResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone, translation
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst, format_lazy
from django.utils.translation import gettext_lazy as _

from backoffice.accounts.actors import request_actor
from backoffice.accounts.admin_progress import progress_html
from backoffice.accounts.selectors import actor_user_names
from backoffice.api.parsers import loads_bounded
from backoffice.eventstore import times
from backoffice.eventstore.vocabulary import Channel
from backoffice.messaging.channels import sms_length
from customers.wording import channel_label

from . import segments, selectors, services, worksheet
from .admin_saves import FormErrors, RefusedSaveShownAdmin, SaveRefused
from .events import (
    CampaignApproved,
    CampaignCancelled,
    CampaignChanged,
    CampaignCompleted,
    CampaignCreated,
    CampaignImported,
    CampaignLaunched,
)
from .models import OUTBOUND_CHANNELS, VARIANT_FIELD_NAMES, VARIANT_FIELDS, Campaign, Segment, Status

REPORT_URL = "admin:insights_campaign_report"


# --- Segments -----------------------------------------------------------------------------------------------------


class SegmentForm(forms.ModelForm):
    rules = forms.CharField(
        label=_("rules"),
        widget=forms.Textarea(attrs={"class": "segment-rules-json", "rows": 4}),
        help_text=_("Built with the editor above; the text is what gets stored."),
    )

    class Meta:
        model = Segment
        fields = ("name", "description", "rules")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        value = self.initial.get("rules") or {"op": "and", "rules": []}
        self.initial["rules"] = json.dumps(value, ensure_ascii=False)

    def clean_rules(self):
        try:
            rules = loads_bounded(self.cleaned_data["rules"])
        except ValueError:
            raise forms.ValidationError(_("not valid rules")) from None
        try:
            return segments.validate_rules(rules)
        except segments.SegmentRuleError as exc:
            raise forms.ValidationError([f"{e['field']}: {e['message']}" for e in exc.errors]) from None


@admin.register(Segment)
class SegmentAdmin(RefusedSaveShownAdmin):
    form = SegmentForm
    list_display = ("name", "description", "updated_at", "created_by")
    search_fields = ("name",)
    readonly_fields = ("live_count",)
    fields = ("name", "description", "live_count", "rules")
    change_form_template = "admin/campaigns/segment/change_form.html"

    @admin.display(description=_("people now"))
    def live_count(self, segment):
        if segment._state.adding:
            return "-"
        return selectors.segment_preview(rules=segment.rules, now=timezone.now(), sample=0)["count"]

    def save_model(self, request, obj, form, change):
        """Through the service, which also sends the approved campaigns using the segment back to draft; a refusal
        (a campaign taking its audience from it right now) shows the form again and writes nothing."""
        try:
            saved = services.segment_save(
                name=form.cleaned_data["name"],
                description=form.cleaned_data.get("description", ""),
                rules=form.cleaned_data["rules"],
                actor=request_actor(request),
                segment=obj if change else None,
            )
        except segments.SegmentRuleError as exc:
            raise SaveRefused([(_segment_error_field(e["field"]), _segment_refusal(e)) for e in exc.errors]) from None
        except services.CampaignRefused as exc:
            raise SaveRefused([(None, campaign_refusal(exc))]) from None
        obj.pk = saved.pk

    def get_urls(self):
        extra = [
            path("preview/", self.admin_site.admin_view(self.preview_view), name="campaigns_segment_preview"),
        ]
        return extra + super().get_urls()

    def preview_view(self, request):
        """The live count (and anonymous sample) of rules being edited, for the editor."""
        if not self.has_role(request):
            raise PermissionDenied
        try:
            rules = segments.validate_rules(loads_bounded(request.GET.get("rules", "")))
        except (ValueError, segments.SegmentRuleError) as exc:
            errors = getattr(exc, "errors", [{"field": "rules", "message": "not valid JSON"}])
            return JsonResponse({"errors": errors}, status=400)
        return JsonResponse(selectors.segment_preview(rules=rules, now=timezone.now(), sample=5))

    def render_change_form(self, request, context, *args, **kwargs):
        context["rule_fields"] = json.dumps(
            {
                name: {"label": str(spec.label), "kind": spec.kind, "cmps": list(spec.cmps)}
                for name, spec in segments.FIELDS.items()
            }
        )
        context["rule_cmps"] = json.dumps({key: str(label) for key, label in segments.CMP_LABELS.items()})
        context["rule_channels"] = json.dumps(
            {"channel": list(OUTBOUND_CHANNELS), "anychannel": list(segments.ANY_CHANNELS)}
        )
        context["preview_url"] = reverse("admin:campaigns_segment_preview")
        return super().render_change_form(request, context, *args, **kwargs)


def _segment_error_field(path: str) -> str | None:
    name = path.split(".")[0]
    return name if name in SegmentForm.base_fields else None


def _segment_refusal(error: dict) -> str:
    if error.get("code") == "in_use":
        return str(
            _("A campaign is taking its audience from this segment right now; change its rules when it is done.")
        )
    return f"{error['field']}: {error['message']}"


# --- Campaigns: the worksheet ---------------------------------------------------------------------------------------


def _cost_field(channel: str) -> forms.DecimalField:
    label = format_lazy("{} ({})", _("cost per message"), channel_label(channel))
    return forms.DecimalField(label=label, required=False, min_value=0, max_digits=8, decimal_places=4)


# The parts of a message, as the preview names them.
CONTENT_LABELS = {
    "subject": _("subject"),
    "body": _("text"),
    "text": _("text"),
    "title": _("title"),
    "url": _("link"),
    "template": _("WhatsApp template"),
    "parameters": _("template parameters"),
    "buttons": _("buttons"),
}


CAMPAIGN_REFUSALS = {
    "invalid": _("The worksheet has answers that cannot be saved"),
    "not_editable": _("Only a draft or an approved campaign can be changed"),
    "not_draft": _("Only a draft can be approved"),
    "inconsistent": _("The campaign is not ready: the checks before approval say what is missing"),
    "not_approved": _("Approve the campaign before launching it"),
    "finished": _("A finished campaign whose messages have all left cannot be cancelled"),
    "same_author": _("A campaign is approved by a second staff member, not by its author or whoever changed it"),
    "segments_changed": _(
        "A segment of the campaign changed after its approval, so its audience is not the one approved: change the "
        "campaign and have it approved again"
    ),
}
# Refusals whose details are the worksheet's checks (worded for staff); the others say it all in one sentence.
DETAILED_REFUSALS = ("invalid", "inconsistent")


def campaign_refusal(exc) -> str:
    """A refusal as staff read it: what to do, then each field as the form labels it ("Válido hasta: ...")."""
    said = str(CAMPAIGN_REFUSALS.get(exc.code, _("The campaign service refused this")))
    errors = exc.errors if exc.code in DETAILED_REFUSALS else []
    details = "; ".join(f"{worksheet_field_label(e['field'])}: {staff_message(e['message'])}" for e in errors)
    return f"{said}." + (f" {details}." if details else "")


def worksheet_field_label(field: str) -> str:
    """A worksheet field as the form labels it: "valid_until" -> "Válido hasta", "costs.push" -> "coste por
    mensaje (Notificación push)"; a path the form does not show reads as the question's words, never as a path."""
    if field.startswith("costs."):
        return str(_cost_field(field.removeprefix("costs.")).label)
    try:
        return capfirst(str(Campaign._meta.get_field(field).verbose_name))
    except FieldDoesNotExist:
        return capfirst(field.replace("_", " ").replace(".", " "))


def staff_message(message: str) -> str:
    """A check's message with channel codes said as channel names (the worksheet writes "the sms variant")."""
    for code in OUTBOUND_CHANNELS:
        message = message.replace(f" {code} ", f" {channel_label(code)} ")
    return message


class CampaignForm(forms.ModelForm):
    cost_email = _cost_field("email")
    cost_sms = _cost_field("sms")
    cost_whatsapp = _cost_field("whatsapp")
    cost_push = _cost_field("push")
    cost_facebook = _cost_field("facebook")
    cost_instagram = _cost_field("instagram")
    channels = forms.MultipleChoiceField(
        label=_("channels"),
        choices=[(c, c) for c in OUTBOUND_CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    class Meta:
        model = Campaign
        fields = (*(f for f in services.campaigns.WORKSHEET_FIELDS if f != "costs"), "segments", "exclusions")
        widgets = {
            "segments": forms.CheckboxSelectMultiple,
            "exclusions": forms.CheckboxSelectMultiple,
            "key_message": forms.Textarea(attrs={"rows": 2}),
            "email_body": forms.Textarea(attrs={"rows": 4}),
            "sms_text": forms.Textarea(attrs={"rows": 2, "class": "sms-text"}),
            "whatsapp_parameters": forms.Textarea(attrs={"rows": 3}),
            "push_body": forms.Textarea(attrs={"rows": 2}),
            "facebook_text": forms.Textarea(attrs={"rows": 2}),
            "instagram_text": forms.Textarea(attrs={"rows": 2}),
            "objective": forms.Textarea(attrs={"rows": 2}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in ("starts_at", "ends_at"):
            if field in self.fields:
                self.fields[field].input_formats = [*DATETIME_INPUT_FORMATS]
        costs = (self.instance.costs if self.instance and not self.instance._state.adding else None) or {}
        for channel in OUTBOUND_CHANNELS:
            if f"cost_{channel}" in self.fields:
                self.fields[f"cost_{channel}"].initial = costs.get(channel)

    def clean(self):
        data = super().clean()
        for name in ("starts_at", "ends_at"):
            if name in data:
                data[name] = self._stored_if_shown(name, data[name])
        costs = {}
        for channel in OUTBOUND_CHANNELS:
            value = data.get(f"cost_{channel}")
            if value is not None:
                try:
                    costs[channel] = str(Decimal(value))
                except InvalidOperation:
                    self.add_error(f"cost_{channel}", _("an amount"))
        data["costs"] = costs
        # The service's own checks, shown on the fields in the staff member's language.
        for error in services.campaigns.campaign_values_errors(data):
            field = error["field"].replace("costs.", "cost_")
            if field in self.fields and field not in self.errors:
                self.add_error(field, _value_error_text(error["code"]))
        if not self.errors:
            # What the save would refuse (the log's limits, a campaign no longer editable), before it is tried.
            campaign = None if self.instance._state.adding else self.instance
            values = worksheet_values(data, self.instance)
            try:
                services.campaign_save_check(campaign=campaign, values=values, **related_ids(data))
            except services.CampaignRefused as exc:
                for field, message in refusal_form_errors(exc, values, fields=self.fields):
                    self.add_error(field, message)
        return data

    def _stored_if_shown(self, name: str, posted):
        """The stored time when the posted one is it as the page showed it: a time set through the API carries
        seconds and microseconds the input may not show (a browser without seconds, an older page), and saving the
        page unchanged must not change the campaign (an approved one would go back to draft)."""
        stored = None if self.instance._state.adding else getattr(self.instance, name)
        if posted is None or stored is None:
            return posted
        for shown in (stored.replace(microsecond=0), stored.replace(second=0, microsecond=0)):
            if posted == shown:
                return stored
        return posted


# The datetime-local input posts "2026-01-01T09:00:30" (step=1 shows seconds) or "2026-01-01T09:00" (no seconds).
DATETIME_INPUT_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def worksheet_values(cleaned: dict, campaign: Campaign) -> dict:
    """What the worksheet form saves: its answers, and the costs per channel as one value."""
    values = {name: cleaned[name] for name in services.campaigns.WORKSHEET_FIELDS if name in cleaned}
    values["costs"] = cleaned.get("costs", campaign.costs)
    return values


def related_ids(cleaned: dict) -> dict:
    """The segments and exclusions the form chose, as campaign_save takes them (none when the form does not show
    them: a campaign that is no longer editable)."""
    ids = {}
    if "segments" in cleaned:
        ids["segment_ids"] = [segment.pk for segment in cleaned["segments"]]
    if "exclusions" in cleaned:
        ids["exclusion_ids"] = [segment.pk for segment in cleaned["exclusions"]]
    return ids


# The worksheet's texts, the longest of which is named when the whole worksheet is too large for the log.
LONG_TEXT_FIELDS = ("key_message", "objective", *VARIANT_FIELD_NAMES)


def refusal_form_errors(exc, values: dict, *, fields) -> FormErrors:
    """A refusal of the campaign service as form errors: each on its field when the form shows it (with the field's
    name otherwise), and the refusal's sentence when no field says it."""
    errors: FormErrors = []
    for error in exc.errors if exc.code in DETAILED_REFUSALS else []:
        field = error["field"].split(".")[0]
        if field == "costs":
            field = error["field"].replace("costs.", "cost_")
        if error["code"] == "too_large":
            # The whole event is over the log's limit: the longest text is what to shorten.
            texts = [name for name in LONG_TEXT_FIELDS if isinstance(values.get(name), str)]
            field = max(texts, key=lambda name: len(values[name]), default="worksheet")
            message = _("too long: a worksheet holds at most %(limit)s KB in all, and with this text it holds more") % {
                "limit": settings.EVENTSTORE_MAX_EVENT_BYTES // 1024
            }
        else:
            message = staff_message(error["message"])
        if field in fields:
            errors.append((field, str(message)))
        else:
            errors.append((None, f"{worksheet_field_label(error['field'])}: {message}"))
    if not any(field for field, _message in errors):
        said = CAMPAIGN_REFUSALS.get(exc.code, _("The campaign service refused this"))
        errors.insert(0, (None, f"{said}."))
    return errors


def _value_error_text(code: str) -> str:
    if code == "out_of_range":
        return _("outside the accepted dates (%(earliest)s to %(latest)s)") % {
            "earliest": times.earliest().date().isoformat(),
            "latest": times.LATEST.date().isoformat(),
        }
    if code == "min_value":
        return _("cannot be negative")
    return _("a time zone is required")


COST_FIELDS = tuple(f"cost_{channel}" for channel in OUTBOUND_CHANNELS)
SECTION_FIELDS = {
    "what": ("key_message", "intent", "offer_code", "discount", "valid_until"),
    "who": ("segments", "exclusions", "holdout_share"),
    "where": ("channels", "channel_mode"),
    "when": ("starts_at", "ends_at", "send_window_start", "send_window_end"),
    "how": (
        "placeholders",
        *(field for fields in VARIANT_FIELDS.values() for field, _key in fields),
        "sms_length",
        "previews",
    ),
    "why": ("objective", "kpi", "target_value", "attribution_days", *COST_FIELDS, "budget"),
}
SECTION_HELP = {
    "what": _("key message, intent and the offer (code, discount, validity), typed once here"),
    "who": _("segments, exclusions and the holdout share (control group)"),
    "where": _("channels, and one channel per customer or every consented one"),
    "when": _("start, end, and the send window in the customer's local time"),
    "how": _("one variant per channel, built from placeholders of the same message and offer"),
    "why": _("objective, KPI, target, attribution window, cost per message and budget"),
}


def _section_fields(key: str, is_read_only: bool) -> tuple[str, ...]:
    """A read-only worksheet shows the costs as stored; an editable one, an input per channel."""
    fields = SECTION_FIELDS[key]
    if is_read_only and key == "why":
        return (*(f for f in fields if f not in COST_FIELDS), "costs")
    return fields


@admin.register(Campaign)
class CampaignAdmin(RefusedSaveShownAdmin):
    form = CampaignForm
    # The author is on the campaign's page: without that column the list shows every column at 1440 pixels.
    list_display = ("name", "status", "progress_short", "starts_at", "ends_at", "approved_by")
    list_filter = ("status",)
    search_fields = ("name",)
    actions = ("approve_selected", "launch_selected", "cancel_selected")
    change_form_template = "admin/campaigns/campaign/change_form.html"
    formfield_overrides = {
        # One native date-and-time input rather than the admin's split pair.
        # To the second (step=1): shown to the minute, a time with seconds saved unchanged would change.
        models.DateTimeField: {
            "form_class": forms.DateTimeField,
            "widget": forms.DateTimeInput(attrs={"type": "datetime-local", "step": "1"}, format="%Y-%m-%dT%H:%M:%S"),
        },
    }

    def get_fieldsets(self, request, obj=None):
        head = (None, {"fields": ("name", "status", "progress", "checks")})
        is_read_only = obj is not None and obj.status not in services.campaigns.EDITABLE
        sections = [
            (
                label,
                {
                    "fields": _section_fields(key, is_read_only),
                    "description": SECTION_HELP[key],
                    "classes": (f"qqoqcp-{key}",),
                },
            )
            for key, label in worksheet.SECTIONS
        ]
        tail = (
            _("Lifecycle"),
            {
                "fields": (
                    "created_by",
                    "approved_by",
                    "approved_at",
                    "launched_at",
                    "completed_at",
                    "launch_progress",
                    "report_link",
                )
            },
        )
        return [head, *sections, tail]

    def get_readonly_fields(self, request, obj=None):
        computed = (
            "status",
            "progress",
            "checks",
            "placeholders",
            "sms_length",
            "previews",
            "launch_progress",
            "report_link",
        )
        lifecycle = ("created_by", "approved_by", "approved_at", "launched_at", "completed_at")
        if obj is not None and obj.status not in services.campaigns.EDITABLE:
            editable = [f.name for f in Campaign._meta.get_fields() if getattr(f, "editable", False)]
            return (*computed, *lifecycle, *editable)
        return (*computed, *lifecycle)

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is not None and obj.status not in services.campaigns.EDITABLE:
            kwargs["fields"] = ["name"]  # everything shown read-only; nothing to post
        return super().get_form(request, obj, change, **kwargs)

    def _problems(self, campaign):
        if not campaign or campaign._state.adding:
            return None
        if not hasattr(campaign, "_problems"):
            campaign._problems = worksheet.campaign_problems(campaign, now=timezone.now())
        return campaign._problems

    @admin.display(description=_("progress"))
    def progress(self, campaign):
        problems = self._problems(campaign)
        state = (
            worksheet.section_state(problems) if problems is not None else {k: False for k, _l in worksheet.SECTIONS}
        )
        done = sum(state.values())
        badges = format_html_join(
            " ",
            '<span class="qqoqcp-badge {}" data-section="{}">{} {}</span>',
            (
                ("done" if state[key] else "todo", key, "✔" if state[key] else "○", label)
                for key, label in worksheet.SECTIONS
            ),
        )
        return format_html('<span class="qqoqcp-progress">{}/6</span> {}', done, badges)

    @admin.display(description=_("answered"))
    def progress_short(self, campaign):
        state = worksheet.section_state(self._problems(campaign) or [])
        return f"{sum(state.values())}/6"

    @admin.display(description=_("checks before approval"))
    def checks(self, campaign):
        """Each failed check names its question (¿Qué?...) and the field as the form labels it, links to that field,
        and says what to do; the field's path stays in data-field for scripts."""
        problems = self._problems(campaign)
        if problems is None:
            return _("Save the draft to see its checks.")
        if not problems:
            return format_html('<span class="qqoqcp-ready">{}</span>', _("Ready: every check passes."))
        sections = dict(worksheet.SECTIONS)
        return format_html(
            '<ul class="qqoqcp-problems">{}</ul>',
            format_html_join(
                "",
                '<li data-field="{}"><span class="qqoqcp-question">{}</span> '
                '<a href="#id_{}"><strong>{}</strong></a>: {}</li>',
                (
                    (
                        p.field,
                        sections.get(p.section, ""),
                        p.field.replace("costs.", "cost_"),
                        worksheet_field_label(p.field),
                        staff_message(p.message),
                    )
                    for p in problems
                ),
            ),
        )

    @admin.display(description=_("placeholders"))
    def placeholders(self, campaign):
        return format_html_join(
            ", ", "<code>{{{}}}</code> {}", ((name, label) for name, label in worksheet.PLACEHOLDERS.items())
        )

    @admin.display(description=_("SMS length"))
    def sms_length(self, campaign):
        if not campaign or not campaign.sms_text:
            return "-"
        sample = worksheet.longest_values(campaign)
        longest = sms_length(worksheet.variant_content(campaign, "sms", sample)["text"])
        return format_html(
            '<span class="sms-length">{}</span>',
            _(
                "%(units)s characters (%(encoding)s), %(segments)s segment(s) with the longest name, city and product,"
                " written with accents"
            )
            % {"units": longest.units, "encoding": longest.encoding, "segments": longest.segments},
        )

    @admin.display(description=_("previews for a sample customer"))
    def previews(self, campaign):
        if not campaign or campaign._state.adding or not campaign.channels:
            return _("Choose channels and save to see the previews.")
        values = self._sample_values(campaign)
        blocks = []
        for channel in campaign.channels:
            if channel not in VARIANT_FIELDS:
                continue
            content = worksheet.variant_content(campaign, channel, values)
            rows = format_html_join(
                "",
                "<dt>{}</dt><dd>{}</dd>",
                (
                    (CONTENT_LABELS.get(key, key), ", ".join(v) if isinstance(v, list) else v)
                    for key, v in content.items()
                ),
            )
            extra = ""
            if channel == Channel.SMS:
                length = sms_length(content["text"])
                extra = format_html(" <small>({} / {} {})</small>", length.units, length.segments, _("segments"))
            blocks.append(
                format_html(
                    '<div class="variant-preview" data-channel="{}"><h4>{}{}</h4><dl>{}</dl></div>',
                    channel,
                    channel_label(channel),
                    extra,
                    rows,
                )
            )
        note = _("Sample: a customer of the audience (city, store, recommendation); the name is a sample name.")
        return format_html("<p><small>{}</small></p>{}", note, format_html_join("", "{}", ((b,) for b in blocks)))

    def _sample_values(self, campaign) -> dict:
        """Values of one audience member (their city, store, recommendation), under a sample name: staff check the
        copy, not the person."""
        from .personalisation import personal_values

        language = translation.get_language() or ""
        values = {**worksheet.fallback_values(language), "name": str(_("María")), "city": "Madrid"}
        first = (
            worksheet.audience_queryset(campaign, now=timezone.now())
            .order_by("id")
            .values_list("id", flat=True)
            .first()
        )
        if first is not None:
            found = personal_values([first], needs={"city", "store", "product"})[first]
            values.update({k: v for k, v in found.items() if v})
        return {**values, **worksheet.offer_values(campaign, language)}

    @admin.display(description=_("launch progress"))
    def launch_progress(self, campaign):
        """Counts done of total while the fan-out works (the page reloads itself every 5 s until it is done), then
        the result in one sentence."""
        if not campaign or campaign._state.adding or not campaign.launched_at:
            return _("Not launched yet.")
        progress = selectors.campaign_launch_progress(campaign_id=campaign.pk)
        total, decided = progress["audience"], progress["decided"]
        if total == 0 and campaign.status == Status.RUNNING:
            said = _("Taking the audience snapshot…")
        elif progress["pending"]:
            said = _("%(decided)s of %(total)s people decided · %(messages)s messages queued") % {
                "decided": decided,
                "total": total,
                "messages": progress["messages"],
            }
        else:
            said = _("Done: %(messages)s messages queued for %(total)s people; %(holdout)s in the control group.") % {
                "messages": progress["messages"],
                "total": total,
                "holdout": progress["outcomes"].get("holdout", 0),
            }
        working = campaign.status == Status.RUNNING and (total == 0 or progress["pending"])
        counts = {"decided": decided, "total": total, "messages": progress["messages"]}
        return progress_html(done=decided, total=total, said=said, working=working, data=counts)

    @admin.display(description=_("report"))
    def report_link(self, campaign):
        if not campaign or not campaign.launched_at:
            return "-"
        return format_html('<a href="{}">{}</a>', reverse(REPORT_URL, args=[campaign.pk]), _("Open the report"))

    def save_model(self, request, obj, form, change):
        """One save through the service, segments and exclusions with the answers; a refusal shows the form again
        and writes nothing (campaigns.admin_saves)."""
        values = worksheet_values(form.cleaned_data, obj)
        try:
            saved = services.campaign_save(
                campaign=Campaign.objects.get(pk=obj.pk) if change else None,
                values=values,
                actor=request_actor(request),
                **related_ids(form.cleaned_data),
            )
        except services.CampaignRefused as exc:
            raise SaveRefused(refusal_form_errors(exc, values, fields=form.fields)) from None
        obj.pk = saved.pk
        obj._state.adding = False

    def save_related(self, request, form, formsets, change):
        """Nothing: save_model saved the segments and exclusions with the answers, in the same event."""

    # --- actions: the same services the API calls ---

    def _run(self, request, command, campaign_ids, done_message):
        for campaign_id in campaign_ids:
            try:
                command(campaign_id=campaign_id, actor=request_actor(request))
            except services.CampaignRefused as exc:
                messages.error(request, campaign_refusal(exc))
            else:
                messages.success(request, done_message)

    @admin.action(description=_("Approve (as a second staff member)"))
    def approve_selected(self, request, queryset):
        self._run(request, services.campaign_approve, queryset.values_list("pk", flat=True), _("Approved."))

    @admin.action(description=_("Launch"))
    def launch_selected(self, request, queryset):
        self._run(request, services.campaign_launch, queryset.values_list("pk", flat=True), _("Launched."))

    @admin.action(description=_("Cancel"))
    def cancel_selected(self, request, queryset):
        self._run(request, services.campaign_cancel, queryset.values_list("pk", flat=True), _("Cancelled."))

    def get_urls(self):
        view = self.admin_site.admin_view
        extra = [
            path("<uuid:campaign_id>/do/<str:command>/", view(self.command_view), name="campaigns_campaign_command"),
        ]
        return extra + super().get_urls()

    def command_view(self, request, campaign_id: uuid.UUID, command: str):
        if not self.has_role(request) or request.method != "POST":
            raise PermissionDenied
        commands = {
            "approve": (services.campaign_approve, _("Approved.")),
            "launch": (services.campaign_launch, _("Launched.")),
            "cancel": (services.campaign_cancel, _("Cancelled.")),
        }
        if command not in commands:
            raise PermissionDenied
        get_object_or_404(Campaign, pk=campaign_id)
        self._run(request, commands[command][0], [campaign_id], commands[command][1])
        return redirect(reverse("admin:campaigns_campaign_change", args=[campaign_id]))

    def render_change_form(self, request, context, *args, obj=None, **kwargs):
        if obj is not None:
            context["commands"] = [
                (name, label, reverse("admin:campaigns_campaign_command", args=[obj.pk, name]))
                for name, label, allowed in (
                    ("approve", _("Approve"), obj.status == Status.DRAFT),
                    ("launch", _("Launch"), obj.status == Status.APPROVED),
                    (
                        "cancel",
                        _("Cancel"),
                        obj.status in (Status.DRAFT, Status.APPROVED, Status.SCHEDULED, Status.RUNNING)
                        # Completed (everyone decided) while messages still wait for the drain: they can be stopped.
                        or (
                            obj.status == Status.COMPLETED
                            and selectors.campaign_has_waiting_messages(campaign_id=obj.pk)
                        ),
                    ),
                )
                if allowed
            ]
            if obj.launched_at:
                context["report_url"] = reverse(REPORT_URL, args=[obj.pk])
        return super().render_change_form(request, context, *args, obj=obj, **kwargs)

    def history_view(self, request, object_id, extra_context=None):
        """The admin's "History": the campaign's audit trail from its log (the admin's own log entries do not see
        what the API, beat and the fan-out did)."""
        if not self.has_role(request):
            raise PermissionDenied
        campaign = get_object_or_404(Campaign, pk=object_id)
        entries = selectors.campaign_history(campaign_id=campaign.pk)
        users = actor_user_names(actors={entry.actor for entry in entries})
        labels = dict(HISTORY_LABELS)
        # Segments by name, as staff know them (the history records their ids).
        names = {str(pk): name for pk, name in Segment.objects.values_list("pk", "name")}
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "campaign": campaign,
            "title": _("History: %(name)s") % {"name": campaign.name},
            "entries": [
                {
                    "version": entry.version,
                    "at": entry.at,
                    "type": entry.type,
                    "who": users.get(entry.actor, entry.actor or _("the system")),
                    "label": _history_label(entry, labels),
                    "reason": entry.reason,
                    "status": Status(entry.status).label,
                    "changes": [
                        {
                            "field": c.field,
                            "label": worksheet_field_label(c.field),
                            "before": _shown(c.before, names),
                            "after": _shown(c.after, names),
                        }
                        for c in entry.changes
                    ],
                }
                for entry in reversed(entries)
            ],
            **(extra_context or {}),
        }
        return TemplateResponse(request, "admin/campaigns/campaign/history.html", context)


HISTORY_LABELS = (
    (CampaignCreated.type_name, _("created")),
    (CampaignChanged.type_name, _("worksheet changed")),
    (CampaignApproved.type_name, _("approved")),
    (CampaignLaunched.type_name, _("launched")),
    (CampaignCancelled.type_name, _("cancelled")),
    (CampaignCompleted.type_name, _("completed")),
    (CampaignImported.type_name, _("recorded as it was (before the log)")),
)


def _history_label(entry, labels: dict) -> str:
    if entry.type == CampaignChanged.type_name and entry.reason:
        return _("a segment it uses changed")
    return labels.get(entry.type, entry.type)


def _shown(value, names: dict[str, str]) -> str:
    if value in (None, "", [], {}):
        return ""
    if isinstance(value, list):
        return ", ".join(names.get(str(v), str(v)) for v in value)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {v}" for k, v in value.items())
    return str(value)


# Journeys are a part of campaigns, in the admin under it.
from .journeys import admin as journeys_admin  # noqa: E402, F401
