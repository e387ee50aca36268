from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "backoffice.accounts"
    label = "accounts"
    verbose_name = "Staff accounts"
