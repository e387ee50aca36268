"""The campaign flow's fixtures (people, a shop, campaigns launched through the services), for the figures of a real
launched campaign. They replace insights' hand-made `shop` in this folder."""

from tests.campaigns.conftest import (  # noqa: F401 - fixtures
    _fresh_recommendations,
    launched,
    make_campaign,
    person,
    shop,
)
