"""The KATOTTG codifier: oblasts, raions, hromadas, settlements and city districts."""
