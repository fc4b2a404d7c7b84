"""Persistence: SQLAlchemy Core tables, the async engine factory and one repository per aggregate.

Nothing here imports the engine, the web edges or aiohttp. Repositories return domain records and raise
domain errors (NotFound, Conflict).
"""
