"""Files: validated uploads, encrypted storage backends, signed download links."""
