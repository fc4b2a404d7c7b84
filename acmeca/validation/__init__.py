"""Challenge validation: verdicts only.

Validators resolve names, connect to the applicant's servers and compare what they find with the key
authorization. They never write anywhere: the ACME service persists the verdict (see ``dispatch.validate``).
"""
