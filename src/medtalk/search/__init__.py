"""Search in encrypted history through a blind index (keyed hashes of normalised words)."""
