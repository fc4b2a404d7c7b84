"""Pure vocabulary shared by every layer: no I/O, no HTTP, no storage."""
