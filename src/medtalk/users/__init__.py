"""Users: provisioned just-in-time from tokens, or added by an operator."""
