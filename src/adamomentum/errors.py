"""Errors a user can fix; the command line prints them without a traceback."""


class UserError(Exception):
    """A mistake in input, configuration or environment, with its fix in the message."""


class DataError(UserError):
    """A data file is missing, malformed or not the expected corpus."""


class ConfigError(UserError):
    """A configuration value is invalid."""
