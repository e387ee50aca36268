"""The campaigns' admins show a save their service refuses on the form and keep nothing of it
(backoffice.accounts.admin_saves), with the campaigns' owner rules (admin_owners)."""

from backoffice.accounts.admin_saves import FormErrors as FormErrors
from backoffice.accounts.admin_saves import RefusedSaveShownMixin
from backoffice.accounts.admin_saves import SaveRefused as SaveRefused

from .admin_owners import OwnedAdmin


class RefusedSaveShownAdmin(RefusedSaveShownMixin, OwnedAdmin):
    """An owned admin whose `save_model` raises SaveRefused when its service refuses the save."""
