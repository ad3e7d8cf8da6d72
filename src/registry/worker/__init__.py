"""``registry worker``: the product's second process, which runs the background passes
(deadline-breach events, webhook deliveries, bulk exports). Each pass is a module of this
package with one entry point, ``async def run_once(database, settings) -> int``: a bounded
amount of work in short transactions, and how much it did."""
