"""Call recording with consent (issue 10): consent, chunk uploads, assembly, downloads."""
