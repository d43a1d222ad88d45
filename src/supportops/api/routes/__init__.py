"""One module per resource; each handler is one call into ``Tenant``."""
