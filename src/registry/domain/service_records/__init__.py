"""The classifier of social services and the service records providers submit."""
