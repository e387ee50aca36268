"""Login throttling for the admin and the staff pages (django-axes): after LOGIN_FAILURE_LIMIT failed logins for one
username from one address, that pair is refused for LOGIN_COOLOFF_MINUTES (429), even with the right password.

Attempts are rows in the database (django-axes' tables), so every gunicorn worker counts the same failures. Keyed by
username AND address: a guesser is stopped, and one address cannot lock a member of staff out everywhere.
"""

from axes.backends import AxesStandaloneBackend


class LoginThrottleBackend(AxesStandaloneBackend):
    """django-axes' check before the password backends. An authentication without a request (a management command,
    a test client's login) is no web login: there is no address to count, so it is left to the next backend."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)
