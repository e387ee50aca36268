"""The refusals of the campaigns services as problem details, registered once (backoffice.api.problems)."""

from backoffice.api.problems import Problem, problem_for_class, validation_failed

from .. import services
from ..segments import SegmentRuleError


@problem_for_class(services.CampaignRefused)
def refused(exc: services.CampaignRefused) -> Problem:
    status = 400 if exc.code in ("inconsistent", "invalid") else 409
    return Problem(
        status_code=status, type=f"campaign_{exc.code}", title=exc.message, detail=exc.message, errors=exc.errors
    )


@problem_for_class(SegmentRuleError)
def segment_rules_refused(exc: SegmentRuleError) -> Problem:
    return validation_failed(exc.errors)


@problem_for_class(services.JourneyRefused)
def journey_refused(exc: services.JourneyRefused) -> Problem:
    status = 400 if exc.code in ("invalid", "invalid_definition") else 409
    return Problem(
        status_code=status, type=f"journey_{exc.code}", title=exc.message, detail=exc.message, errors=exc.errors
    )
