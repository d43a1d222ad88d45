"""The REST API: a thin face over ``Tenant`` (see :mod:`supportops.api.app`)."""

from supportops.api.app import create_app

__all__ = ["create_app"]
