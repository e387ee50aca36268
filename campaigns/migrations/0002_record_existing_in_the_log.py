"""Segments and campaigns became projections of the log: record the ones that exist without events, so that
`rebuild_projections` gives them back.

Each pre-log segment gets `segment.imported`, each pre-log campaign `campaign.imported` (its worksheet, status and
lifecycle as they are now) and its audience and deliveries as `campaign.audience_imported` /
`campaign.deliveries_imported` chunks. They land after the campaign's older lifecycle events and messages, which the
projection skips for a campaign it does not hold yet; the imported state is the sum of them. Rows are read through
the historical models; the inline projection finds every row already there and writes nothing. An empty database (a
new install, the tests) records nothing. Running it again records nothing either (idempotent event ids).
"""

import uuid

from django.db import migrations

SEGMENT_TYPES = {"segment.created", "segment.imported"}
CAMPAIGN_TYPES = {"campaign.created", "campaign.imported"}
WORKSHEET_FIELDS = (
    "name",
    "key_message",
    "intent",
    "offer_code",
    "discount",
    "valid_until",
    "holdout_share",
    "channels",
    "channel_mode",
    "starts_at",
    "ends_at",
    "send_window_start",
    "send_window_end",
    "email_subject",
    "email_body",
    "sms_text",
    "whatsapp_template",
    "whatsapp_parameters",
    "push_title",
    "push_body",
    "facebook_text",
    "instagram_text",
    "objective",
    "kpi",
    "target_value",
    "attribution_days",
    "costs",
    "budget",
)
CHUNK = 200


def _has(stream, types):
    from backoffice.eventstore import store

    return any(event.type in types for event in store.read_stream(stream))


def _event(type_name, data, key):
    """An event whose id is its place in this import: recording it again is a duplicate, never a second copy."""
    from backoffice.eventstore import store

    event_id = uuid.uuid5(uuid.NAMESPACE_URL, f"campaigns-0002:{key}")
    return store.NewEvent(type_name, data, id=event_id, metadata={"actor": "migration:campaigns.0002"})


def record_existing(apps, schema_editor):
    from backoffice.eventstore import store

    Segment = apps.get_model("campaigns", "Segment")
    Campaign = apps.get_model("campaigns", "Campaign")
    AudienceMember = apps.get_model("campaigns", "AudienceMember")
    Delivery = apps.get_model("campaigns", "Delivery")
    for segment in Segment.objects.order_by("created_at", "id"):
        stream = f"segment-{segment.id}"
        if _has(stream, SEGMENT_TYPES):
            continue
        data = {
            "segment_id": str(segment.id),
            "name": segment.name,
            "description": segment.description,
            "rules": segment.rules,
            "created_by": segment.created_by,
            "created_at": segment.created_at,
            "updated_at": segment.updated_at,
        }
        store.append(stream, [_event("segment.imported", data, stream)])
    for campaign in Campaign.objects.order_by("created_at", "id"):
        stream = f"campaign-{campaign.id}"
        if _has(stream, CAMPAIGN_TYPES):
            continue
        sheet = {name: getattr(campaign, name) for name in WORKSHEET_FIELDS}
        sheet["costs"] = {channel: str(cost) for channel, cost in (campaign.costs or {}).items()}
        sheet["segments"] = sorted(str(i) for i in campaign.segments.values_list("id", flat=True))
        sheet["exclusions"] = sorted(str(i) for i in campaign.exclusions.values_list("id", flat=True))
        data = {
            "campaign_id": str(campaign.id),
            "worksheet": sheet,
            "status": campaign.status,
            "created_by": campaign.created_by,
            "approved_by": campaign.approved_by,
            "approved_at": campaign.approved_at,
            "launched_at": campaign.launched_at,
            "completed_at": campaign.completed_at,
            "is_snapshot_done": campaign.is_snapshot_done,
            "snapshot_cursor": str(campaign.snapshot_cursor) if campaign.snapshot_cursor else None,
            "created_at": campaign.created_at,
            "updated_at": campaign.updated_at,
        }
        store.append(stream, [_event("campaign.imported", data, stream)])
        audience_stream = f"campaign-audience-{campaign.id}"
        members = list(
            AudienceMember.objects.filter(campaign_id=campaign.id)
            .order_by("id")
            .values("customer_id", "is_holdout", "outcome", "not_before", "decided_at")
        )
        deliveries = list(
            Delivery.objects.filter(campaign_id=campaign.id)
            .order_by("id")
            .values("customer_id", "channel", "message_id", "queued_at")
        )
        events = []
        for start in range(0, len(members), CHUNK):
            chunk = [{**m, "customer_id": str(m["customer_id"])} for m in members[start : start + CHUNK]]
            events.append(
                _event(
                    "campaign.audience_imported",
                    {"campaign_id": str(campaign.id), "members": chunk},
                    f"{audience_stream}:members:{start}",
                )
            )
        for start in range(0, len(deliveries), CHUNK):
            chunk = [
                {**d, "customer_id": str(d["customer_id"]), "message_id": str(d["message_id"])}
                for d in deliveries[start : start + CHUNK]
            ]
            events.append(
                _event(
                    "campaign.deliveries_imported",
                    {"campaign_id": str(campaign.id), "deliveries": chunk},
                    f"{audience_stream}:deliveries:{start}",
                )
            )
        if events:
            store.append(audience_stream, events)


class Migration(migrations.Migration):
    dependencies = [
        ("campaigns", "0001_initial"),
        ("eventstore", "0006_projection_failures"),
    ]

    operations = [migrations.RunPython(record_existing, migrations.RunPython.noop)]
