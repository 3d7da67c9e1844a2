"""Platform clients: one module per partner platform, all behind ``PlatformClient``."""
