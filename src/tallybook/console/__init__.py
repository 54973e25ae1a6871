"""The web console at ``/console``: server-rendered pages on the same services as the API.

A user signs in with an API token and gets a signed session cookie; every page asks the
domain services the API endpoints call, so each rule (validation, permissions, tenancy,
the numbers) has one code path.
"""
