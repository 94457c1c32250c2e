"""The package's own exceptions: every bad input raises one of these with a message naming it."""


class TNGDError(Exception):
    """Base class of every error ``tngd`` raises on purpose (the CLI prints it and exits 2)."""


class DataError(TNGDError, ValueError):
    """A data file is missing, unreadable or malformed (bad IDX header, wrong shapes, bad labels)."""


class ConfigError(TNGDError, ValueError):
    """An unusable setting: unknown model/optimizer name, negative time, bad shape of an input."""
