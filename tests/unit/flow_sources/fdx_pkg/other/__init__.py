# ruff: noqa
# Fixture: written the way users write flows (legacy typing, mutable defaults...).

