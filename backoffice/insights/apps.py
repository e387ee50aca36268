from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "backoffice.insights"
    label = "insights"
