"""The HTTP side of the app: factory and lifespan (`app`, `state`), dependencies,
middleware, routes. A plain package: import what you need from its modules."""
