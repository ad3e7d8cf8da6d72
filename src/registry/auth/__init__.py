"""Who is calling: token verification, the Principal, roles and their permissions."""
