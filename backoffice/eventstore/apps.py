from django.apps import AppConfig
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext_lazy as _


class EventStoreConfig(AppConfig):
    name = "backoffice.eventstore"
    label = "eventstore"
    verbose_name = _("Event store")

    def ready(self) -> None:
        # Every app declares its event types in events.py and its read models in projections.py; importing them
        # fills the registries, so the store can validate any type and rebuild any projection.
        autodiscover_modules("events", "projections")
        from django.core import checks
        from django.db.models import CharField, ForeignKey, UUIDField

        from .backends import recorder
        from .projector import check_event_types
        from .sql import AnyOf

        checks.register(check_event_types)

        UUIDField.register_lookup(AnyOf)
        CharField.register_lookup(AnyOf)
        ForeignKey.register_lookup(AnyOf)
        recorder()  # chosen once, from the database's engine (no connection is opened)
