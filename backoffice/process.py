"""What a long-lived server process (a gunicorn worker, a Celery worker) does once its start-up is over."""

import gc


def start_up_done() -> None:
    """Everything imported and built so far lives as long as the process (Django, the apps, their libraries: over
    100,000 objects the cycle collector tracks): moved out of its reach (`gc.freeze`), so a full collection walks what
    requests and tasks allocate instead of spending tens of ms on objects that are never garbage. The start-up's own
    garbage is collected first, so none of it is kept for ever."""
    gc.collect()
    gc.freeze()
