"""Video calls: rooms, providers and ICE configuration."""
