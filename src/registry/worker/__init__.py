"""``registry worker``: the product's second process, a loop of passes (bulk exports, webhook
deliveries, deadline events), each doing a bounded amount of work in its own short
transactions. Each pass is a module of this package with one entry point,
``async def run_once(database, settings) -> int``."""
