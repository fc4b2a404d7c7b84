"""``acmeca dev dns``: a small DNS server for demos and tests, so a newcomer needs no BIND to try DNS names.

``records`` holds the zone data and the answering rules, ``server`` the UDP and TCP sockets, ``control`` the
HTTP channel through which client hooks add and clear TXT records.
"""
