"""The SQL the API's routes run, one module per resource (runs, sources, rejected records, reports).

Each function takes a Connection and typed arguments and returns schema objects or rows; the routes in
api.routes keep to HTTP: parameters, status codes, response models and what is cached. Statements use `?`
placeholders (see ingestion.warehouse.Connection). The models' and tests' applied state is read by
api.applied.
"""
