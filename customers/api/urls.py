from django.urls import path

from . import cases, consents, customers, gdpr, inbound, merges, views

urlpatterns = [
    path("events", views.EventsApi.as_view(), name="events"),
    path("customers", customers.CustomerListApi.as_view(), name="customers"),
    path("customers/search", customers.CustomerSearchApi.as_view(), name="customer-search"),
    path("customers/merge", merges.CustomerMergeApi.as_view(), name="customer-merge"),
    path("customers/<uuid:customer_id>", customers.CustomerDetailApi.as_view(), name="customer"),
    path("customers/<uuid:customer_id>/unmerge", merges.CustomerUnmergeApi.as_view(), name="customer-unmerge"),
    path("customers/<uuid:customer_id>/timeline", customers.CustomerTimelineApi.as_view(), name="customer-timeline"),
    path("customers/<uuid:customer_id>/consents", consents.CustomerConsentsApi.as_view(), name="customer-consents"),
    path("customers/<uuid:customer_id>/erase", gdpr.CustomerEraseApi.as_view(), name="customer-erase"),
    path("customers/<uuid:customer_id>/export", gdpr.CustomerExportApi.as_view(), name="customer-export"),
    path("cases", cases.CaseListApi.as_view(), name="cases"),
    path("cases/<uuid:case_id>", cases.CaseDetailApi.as_view(), name="case"),
    path("cases/<uuid:case_id>/messages", cases.CaseMessageApi.as_view(), name="case-messages"),
    path("cases/<uuid:case_id>/resolve", cases.CaseResolveApi.as_view(), name="case-resolve"),
    path("cases/<uuid:case_id>/csat", cases.CaseCsatApi.as_view(), name="case-csat"),
    path("channels/<str:channel>/inbound", inbound.ChannelInboundApi.as_view(), name="channel-inbound"),
]
