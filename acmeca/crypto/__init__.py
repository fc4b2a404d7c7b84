"""The only package that imports cryptography.hazmat. Synchronous; callers move heavy work off the loop."""
