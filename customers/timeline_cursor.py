"""The timeline's keyset cursor: the (occurred_at, position) of the last event seen, as an opaque string. One
format for the API and the staff pages, so a link from one works in the other."""

import base64
import binascii
from datetime import datetime


class BadCursor(ValueError):
    pass


def cursor_encode(occurred_at: datetime, position: int) -> str:
    return base64.urlsafe_b64encode(f"{occurred_at.isoformat()}|{position}".encode()).decode()


def cursor_decode(cursor: str) -> tuple[datetime, int]:
    """Raises BadCursor for anything this module did not make."""
    try:
        occurred, position = base64.urlsafe_b64decode(cursor.encode()).decode().split("|")
        moment = datetime.fromisoformat(occurred)
        if moment.tzinfo is None:
            raise ValueError("naive")
        return moment, int(position)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise BadCursor(cursor) from None
