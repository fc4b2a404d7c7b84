"""aiohttp edge of the admin API: parse, authenticate, call admin.service, render admin errors."""
