"""The shared layer: what every app uses and nothing app-specific.

The typed htmx request (``http``), who may do what (``roles``), cheap URL reversal for the hot path
(``routing``), sign-in (``auth``), the Redis cache client (``cache``), sessions that outlast a cache outage
(``sessions``), file hashing (``hashing``) and the Jinja2 environment (``jinja2``). It imports no app
of the project: every app may import it.
"""
