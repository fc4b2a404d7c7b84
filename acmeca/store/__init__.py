"""Persistence: SQLAlchemy Core tables, the database (engines, transactions) and one repository per aggregate.

A repository is a module of functions whose first argument is the caller's ``Transaction``
(acmeca.store.transaction); services open the transactions (``async with db.write() as tx``) and decide what commits
together. Nothing here imports the engine, the web edges or aiohttp. Repositories return domain records
(``acmeca.domain``) and raise domain errors (NotFound, Conflict).
"""
