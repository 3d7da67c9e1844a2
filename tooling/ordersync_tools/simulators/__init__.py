"""Simulators of the partner platforms: real HTTP on 127.0.0.1, behaving as the platforms' docs say."""
