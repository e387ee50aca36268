"""Orders and stock: catalog, locations, stock per location, carts, orders, fulfilment and returns."""
