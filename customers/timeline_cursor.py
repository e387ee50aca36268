"""The timeline's keyset cursor: the (occurred_at, position) of the last event seen, as an opaque string. One
format for the API and the staff pages, so a link from one works in the other."""

import base64
import binascii
from datetime import datetime

from backoffice.eventstore import times


class BadCursor(ValueError):
    pass


def cursor_encode(occurred_at: datetime, position: int) -> str:
    return base64.urlsafe_b64encode(f"{occurred_at.isoformat()}|{position}".encode()).decode()


# An event's position is a bigint.
_POSITIONS = range(2**63)


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    """Raises BadCursor for anything this module did not make: a forged time the database cannot compare (the edge
    of the calendar overflows on conversion to UTC) or a position no bigint holds is refused here, not in the query."""
    try:
        occurred, position = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(occurred)
        if moment.tzinfo is None:
            raise ValueError("naive")
        if times.out_of_range(moment) is not None or int(position) not in _POSITIONS:
            raise ValueError("out of range")
        return moment, int(position)
    except (ValueError, OverflowError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(cursor) from None
