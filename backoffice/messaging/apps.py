from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "backoffice.messaging"
    label = "messaging"
