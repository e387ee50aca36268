"""Browser pages for store and support staff: log in, find a customer, the customer page (360 view, timeline,
consents, open cases, orders), consent changes at the counter. Server-rendered, session auth, es/en.

Reads through the selectors of the apps below and acts through their services; role checks live in `access`.
"""
