"""aiohttp plumbing shared by the three front ends."""
