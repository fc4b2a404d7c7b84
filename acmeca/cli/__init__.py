"""The ``acmeca`` command line, mirroring ``step ca``."""
