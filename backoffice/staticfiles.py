"""The static files storage of production: WhiteNoise's hashed and compressed files.

Brotli (when the `brotli` package is installed) compresses best but slowly: `collectstatic` spends most of its time on
the API docs' bundles. STATIC_BROTLI=false keeps gzip only (a quicker release, e.g. in CI).
"""

from django.conf import settings
from whitenoise.storage import CompressedManifestStaticFilesStorage


class HashedCompressedStaticFilesStorage(CompressedManifestStaticFilesStorage):
    def create_compressor(self, **kwargs):
        kwargs.setdefault("use_brotli", getattr(settings, "STATIC_BROTLI", True))
        return super().create_compressor(**kwargs)
