"""The project's own date formats per language (settings.FORMAT_MODULE_PATH), over Django's.

A moment reads "6 dic 2026, 23:55" (Spanish) and "6 Dec 2026, 23:55" (English) wherever Django formats one for
staff: the admin's change lists and read-only fields, as the staff pages write it (`|date:"j M Y, H:i"`). Django's
Spanish default, "6 de diciembre de 2026 a las 23:55", took two of a change list's seven columns and pushed the
last ones out of sight at 1280 pixels. Dates alone keep Django's formats; what staff type is unchanged (the input
formats are Django's).
"""
