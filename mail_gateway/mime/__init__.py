"""Pure functions over RFC 5322 / MIME bytes: header parsing and the cached structure used by IMAP."""
