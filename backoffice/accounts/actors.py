"""How the log names who did something: the staff user behind a request (a browser session, or the user an API
token belongs to) is `user:<pk>`. Services record it in each event's metadata; pages that show an actor read the
pk back to a name."""


def request_actor(request) -> str:
    """The actor the services record for what this request's user does."""
    return f"user:{request.user.pk}"
