"""Request and response shapes: ``base`` (what every shape builds on, and the patterns
shared by contexts), then one module per context."""
