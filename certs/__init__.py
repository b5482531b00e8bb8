"""Health PKI, S/MIME and TLS identities. Imports nothing else of ours."""
