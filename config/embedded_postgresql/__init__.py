"""Django's PostgreSQL backend for the embedded server: the server is started on the first connection.

Settings only name this backend (``settings.DATABASES`` without a host); importing them starts nothing.
"""
