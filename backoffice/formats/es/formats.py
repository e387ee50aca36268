# A moment as the staff pages write it (backoffice/formats/__init__.py says why).
DATETIME_FORMAT = "j M Y, H:i"
SHORT_DATETIME_FORMAT = "j M Y, H:i"
