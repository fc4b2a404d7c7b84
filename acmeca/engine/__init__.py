"""The issuing engine: the only code that turns a request into a signed certificate."""
