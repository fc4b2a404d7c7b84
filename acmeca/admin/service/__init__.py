"""HTTP-free admin services; the web layer in ``acmeca.admin.web`` only parses and renders."""
