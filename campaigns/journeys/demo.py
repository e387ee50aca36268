"""Demo journeys for `seed_demo`: the abandoned-cart and pickup-reminder journeys live, from their templates, and the
welcome series still a draft, so marketing staff open "Journeys" to working examples rather than an empty list.

Published after the demo's history: a journey enters people only on events after its publication, so nobody from the
past enters, and no message goes out while seeding. The next cart abandoned or order ready does enter. Idempotent:
journeys are found by their template among those this seed made."""

from .models import Journey, JourneyStatus
from .services import journey_publish, journey_save
from .templates import TEMPLATES

ACTOR = "seed_demo:marketing"
# (template, published)
DEMO_JOURNEYS = (("abandoned_cart", True), ("pickup_ready", True), ("welcome", False))


def seed_journeys() -> dict[str, int]:
    made = published = 0
    for template, is_live in DEMO_JOURNEYS:
        journey = Journey.objects.filter(template=template, created_by=ACTOR).first()
        if journey is None:
            journey = journey_save(journey_id=None, values=dict(TEMPLATES[template]), actor=ACTOR, template=template)
            made += 1
        if is_live and journey.status == JourneyStatus.DRAFT:
            journey_publish(journey_id=journey.pk, actor=ACTOR)
            published += 1
    return {"made": made, "published": published}
