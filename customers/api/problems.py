"""The refusals of the customers services as problem details, registered once (backoffice.api.problems)."""

from backoffice.api.problems import Problem, invalid, not_found, problem_for_class, refused

from ..selectors import CustomerNotFound
from ..services import MergeRefused
from ..services import cases as case_services


@problem_for_class(CustomerNotFound)
def customer_not_found(exc: CustomerNotFound) -> Problem:
    """The customer a path names does not exist. (A customer named in a body is a field error instead: the view
    that takes one catches it and says which field.)"""
    return not_found("no such customer")


@problem_for_class(case_services.CaseRefused)
def case_refused(exc: case_services.CaseRefused) -> Problem:
    if exc.status == 404:
        return not_found(str(exc))
    if exc.status == 409:
        return refused(409, exc.code, "The case cannot do this", field=exc.field, message=str(exc), **exc.extra)
    return Problem(
        status_code=exc.status,
        type="validation_error",
        title="The request is invalid",
        detail=str(exc),
        errors=[{"field": exc.field, "message": str(exc), "code": exc.code}],
        **exc.extra,
    )


# A refusal about the request itself is a 400; one about the customers' state (already merged, erased) a 409.
_CONFLICTS = {"already_merged", "erased", "not_merged"}


@problem_for_class(MergeRefused)
def merge_refused(exc: MergeRefused) -> Problem:
    if exc.code in _CONFLICTS:
        return refused(
            409, exc.code, "The customers are not in a state that allows this", field=exc.field, message=str(exc)
        )
    return invalid(exc.field, str(exc), exc.code)
