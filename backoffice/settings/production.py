"""Production: DEBUG is off whatever the environment says, and the browser-facing defaults are strict."""

import os

os.environ["DEBUG"] = "false"

from .base import *  # noqa: E402,F403
from .base import env  # noqa: E402

SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 30)
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Whether browsers may add the host to their built-in HSTS lists (the header alone submits nothing).
SECURE_HSTS_PRELOAD = env.bool("SECURE_HSTS_PRELOAD", default=True)

# Static files (admin, staff pages, the API docs' Swagger UI) served by the web process itself through WhiteNoise,
# from `manage.py collectstatic`: file names carry a hash of their content (cached for a year by browsers and
# proxies), each has a gzip twin (and brotli when installed). A missing file is an error at render, not a 404 later.
MIDDLEWARE = [  # noqa: F405
    *MIDDLEWARE[:2],  # noqa: F405 - the request id and SecurityMiddleware first
    "whitenoise.middleware.WhiteNoiseMiddleware",
    *MIDDLEWARE[2:],  # noqa: F405
]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "backoffice.staticfiles.HashedCompressedStaticFilesStorage"},
}
STATIC_BROTLI = env.bool("STATIC_BROTLI", default=True)
STATIC_ROOT = env.path("STATIC_ROOT", default=STATIC_ROOT)  # noqa: F405
# Only the hashed names are kept (half the files to compress; templates only ever ask for those), and source maps
# are left uncompressed: they are megabytes that only a developer's browser tools ever fetch.
WHITENOISE_KEEP_ONLY_HASHED_FILES = True
WHITENOISE_SKIP_COMPRESS_EXTENSIONS = (
    "jpg",
    "jpeg",
    "png",
    "gif",
    "webp",
    "zip",
    "gz",
    "tgz",
    "bz2",
    "tbz",
    "xz",
    "br",
    "swf",
    "flv",
    "woff",
    "woff2",
    "3gp",
    "3gpp",
    "asf",
    "avi",
    "m4v",
    "mov",
    "mp4",
    "mpeg",
    "mpg",
    "webm",
    "wmv",
    "map",
)
