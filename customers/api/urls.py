from django.urls import path

from . import consents, customers, gdpr, merges, views

urlpatterns = [
    path("events", views.EventsApi.as_view(), name="events"),
    path("customers", customers.CustomerListApi.as_view(), name="customers"),
    path("customers/merge", merges.CustomerMergeApi.as_view(), name="customer-merge"),
    path("customers/<uuid:customer_id>", customers.CustomerDetailApi.as_view(), name="customer"),
    path("customers/<uuid:customer_id>/unmerge", merges.CustomerUnmergeApi.as_view(), name="customer-unmerge"),
    path("customers/<uuid:customer_id>/timeline", customers.CustomerTimelineApi.as_view(), name="customer-timeline"),
    path("customers/<uuid:customer_id>/consents", consents.CustomerConsentsApi.as_view(), name="customer-consents"),
    path("customers/<uuid:customer_id>/erase", gdpr.CustomerEraseApi.as_view(), name="customer-erase"),
    path("customers/<uuid:customer_id>/export", gdpr.CustomerExportApi.as_view(), name="customer-export"),
]
