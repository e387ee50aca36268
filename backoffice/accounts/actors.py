"""How the log names who did something: the staff user behind a request (a browser session, or the user an API
token belongs to) is `user:<pk>`. Services record it in each event's metadata; pages that show an actor read the
pk back to a name (selectors.actor_user_names)."""

_USER_PREFIX = "user:"


def user_actor(user_pk: object) -> str:
    """The actor the services record for what the staff user with this pk does."""
    return f"{_USER_PREFIX}{user_pk}"


def request_actor(request) -> str:
    """The actor the services record for what this request's user does."""
    return user_actor(request.user.pk)


def actor_user_pk(actor: str) -> str | None:
    """The staff user's pk an actor names, or None for any other actor (the system, a task, an integration)."""
    pk = actor.removeprefix(_USER_PREFIX)
    return pk if pk != actor and pk.isdigit() else None
