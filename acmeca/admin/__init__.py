"""Remote management: admins, provisioner CRUD, issuance policies at three levels, ACME EAB keys."""
