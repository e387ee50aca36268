"""A save the service refuses, in the admin (campaigns, journeys, acquisition spend): the form is shown again with
the service's reasons on its fields, and nothing of the attempt stays (no event, no history entry, no "saved"
message).

Django's change form goes on after `save_model` whatever happens there (`save_related`, the history entry, the
redirect). So `save_model` raises SaveRefused instead: it leaves Django's transaction of the attempt, which is rolled
back, and the view is run again on the same POST with a form that carries the reasons as its errors, so Django shows
it as it shows any invalid form, with what staff typed."""

from django.core.exceptions import NON_FIELD_ERRORS
from django.http import HttpRequest

# (form field, or None for the form as a whole; the reason as staff read it)
FormErrors = list[tuple[str | None, str]]


class SaveRefused(Exception):
    """`errors`: at least one, so the form shown again is invalid and not saved a second time."""

    def __init__(self, errors: FormErrors):
        self.errors = errors
        super().__init__("; ".join(message for _field, message in errors))


class _RefusedForm:
    """Put before a form class: the refusal's reasons become the form's errors (each once)."""

    refusal: SaveRefused

    def clean(self):
        cleaned = super().clean()
        for field, message in self.refusal.errors:
            where = field if field in self.fields else None
            shown = self.errors.get(where or NON_FIELD_ERRORS, [])
            if message not in shown:
                self.add_error(where, message)
        return cleaned


class RefusedSaveShownMixin:
    """Before a ModelAdmin whose `save_model` raises SaveRefused when its service refuses the save."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except SaveRefused as refusal:
            request._save_refused = refusal  # read by get_form, for this request only
            return super().changeform_view(request, object_id, form_url, extra_context)

    def get_form(self, request: HttpRequest, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        refusal = getattr(request, "_save_refused", None)
        if refusal is None:
            return form
        return type(form.__name__, (_RefusedForm, form), {"refusal": refusal})
