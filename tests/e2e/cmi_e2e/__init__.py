"""Test harness for mod_cmi: a test PKI, a real httpd, real clients."""
