"""The log names a staff user as `user:<pk>`; pages read those actors back to user names and leave the others (the
system, tasks, integrations) as they are."""

import pytest
from django.test import RequestFactory

from backoffice.accounts.actors import actor_user_pk, request_actor, user_actor
from backoffice.accounts.selectors import actor_user_names

pytestmark = pytest.mark.django_db


def test_a_requests_actor_names_its_user_and_reads_back_to_its_pk(staff_user):
    user = staff_user("marketing")
    request = RequestFactory().get("/")
    request.user = user

    actor = request_actor(request)

    assert actor == user_actor(user.pk) == f"user:{user.pk}"
    assert actor_user_pk(actor) == str(user.pk)


@pytest.mark.parametrize("actor", ["", "system", "beat", "marketing-2", "user:", "user:abc", "integration:shopify"])
def test_an_actor_that_is_no_staff_user_reads_back_to_no_pk(actor):
    assert actor_user_pk(actor) is None


def test_staff_actors_are_shown_by_user_name_and_the_others_are_left_out(staff_user):
    ana, berta = staff_user("marketing"), staff_user("admin")
    actors = {user_actor(ana.pk), user_actor(berta.pk), "system", "user:999999", "user:x"}

    names = actor_user_names(actors=actors)

    assert names == {user_actor(ana.pk): ana.username, user_actor(berta.pk): berta.username}
