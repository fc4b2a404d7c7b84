"""aiohttp edge of the step-style API."""
