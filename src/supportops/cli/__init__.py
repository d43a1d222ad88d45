"""The command line: a thin Typer face over the library (no business logic here)."""
