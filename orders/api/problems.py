"""The refusals of the orders services as problem details, registered once (backoffice.api.problems)."""

from backoffice.api.problems import Problem, not_found, problem_for_class, refused, validation_failed

from ..errors import (
    AlreadyExists,
    IdConflict,
    IllegalTransition,
    InsufficientStock,
    InvalidField,
    InvalidFields,
    NotYourLocation,
    OrderNotFound,
    OrdersError,
)


@problem_for_class(OrdersError)
def problem_for(exc: OrdersError) -> Problem:
    if isinstance(exc, InvalidFields):
        return validation_failed([{"field": e.field, "message": e.message, "code": e.code} for e in exc.errors])
    if isinstance(exc, InvalidField):
        return validation_failed([{"field": exc.field, "message": exc.message, "code": exc.code}])
    if isinstance(exc, NotYourLocation):
        return refused(
            403, "not_your_location", "Store staff act on their own location only", field=exc.field, message=str(exc)
        )
    if isinstance(exc, InsufficientStock):
        return Problem(
            status_code=409,
            type="insufficient_stock",
            title="Not enough stock",
            detail=str(exc),
            errors=[
                {
                    "field": "lines",
                    "message": f"{line['requested']} x {line['sku']}: not enough",
                    "code": "insufficient",
                }
                for line in exc.lines
                if line.get("is_short", True)
            ],
            lines=exc.lines,
        )
    if isinstance(exc, OrderNotFound):
        return not_found(str(exc))
    if isinstance(exc, IdConflict):
        return refused(
            409,
            "idempotency_conflict",
            f"{exc.what} id reused for different content",
            field="id",
            message=str(exc),
            code="conflict",
        )
    if isinstance(exc, IllegalTransition):
        return refused(
            409,
            "illegal_transition",
            "Not possible in the order's current status",
            field="action",
            message=str(exc),
            current_status=exc.status,
            allowed_actions=exc.allowed,
        )
    if isinstance(exc, AlreadyExists):
        return refused(409, "already_exists", "Already exists", field=exc.field, message=exc.message)
    return Problem(status_code=400, type="invalid", title="Refused", detail=str(exc))
