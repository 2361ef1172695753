"""bert2bert."""
